// The architecture rule, run by `npm run lint` (Biome's own rule cannot say "only index.ts of a
// sibling folder"):
// - src/core/ imports only src/core/ (it is the floor every module stands on);
// - a module folder (src/events, src/cache, ...) imports its own files, src/core/, and other
//   modules only through their index.ts;
// - src/cli/ and the root files (src/index.ts, src/redkit.ts) import core/ and modules' index.ts;
// - the service (packages/*/src) imports the library only by its package name, never by path.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = path.join(root, 'src')
const SPECIFIER = /(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

function* tsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') yield* tsFiles(full)
    } else if (entry.name.endsWith('.ts')) yield full
  }
}

/** 'core', 'events', ... for a file under src/<folder>/; '' for src/*.ts itself. */
function folderOf(file) {
  const rel = path.relative(src, file).split(path.sep)
  return rel.length === 1 ? '' : rel[0]
}

const problems = []
const report = (file, specifier, why) => problems.push(`${path.relative(root, file)}: import '${specifier}' ${why}`)

for (const file of tsFiles(src)) {
  const from = folderOf(file)
  for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2]
    if (!specifier.startsWith('.')) continue
    const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts')
    if (!target.startsWith(src + path.sep)) {
      report(file, specifier, 'leaves src/')
      continue
    }
    const to = folderOf(target)
    if (to === from) continue
    if (from === 'core') report(file, specifier, 'reaches out of core/: core imports only core/')
    else if (to === '') {
      if (from !== 'cli') report(file, specifier, 'imports a root file (src/index.ts, src/redkit.ts) from a module')
    } else if (to !== 'core' && path.basename(target) !== 'index.ts')
      report(file, specifier, `reaches inside ${to}/: import ../${to}/index.js, the module's public surface`)
  }
}

const packages = path.join(root, 'packages')
for (const name of readdirSync(packages, { withFileTypes: true }).filter((e) => e.isDirectory())) {
  const dir = path.join(packages, name.name, 'src')
  for (const file of tsFiles(dir)) {
    for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2]
      if (!specifier.startsWith('.')) continue
      const target = path.resolve(path.dirname(file), specifier)
      if (!target.startsWith(dir + path.sep)) report(file, specifier, "leaves its package: import the library as 'redkit'")
    }
  }
}

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} import(s) break the architecture rule (CONTRIBUTING.md):`)
  for (const problem of problems) console.error(`  ${problem}`)
  process.exit(1)
}
