// Keeps package-lock.json installable with `npm ci` where the registry serves only some platforms'
// optional binaries (this project's machines get 404 for e.g. @biomejs/cli-darwin-arm64). npm
// install then leaves those packages out of the lock but keeps their names in the parent's
// optionalDependencies, and `npm ci` refuses the lock as out of sync. Dropping the names of optional
// packages the lock has no entry for is exactly what npm would have done with a full registry on
// this platform. It changes nothing where every optional package resolved.
//
// A development tool, not an install script: run `npm run lock:prune` after adding or updating a
// dependency. `npm run lock:check` (CI) fails instead of writing when the lock needs pruning.
import { readFileSync, writeFileSync } from 'node:fs'

const url = new URL('../package-lock.json', import.meta.url)
let text
try {
  text = readFileSync(url, 'utf8')
} catch {
  process.exit(0)
}
const lock = JSON.parse(text)
const packages = lock.packages ?? {}
let pruned = 0
for (const [path, entry] of Object.entries(packages)) {
  const optional = entry.optionalDependencies
  if (!optional) continue
  const base = path === '' ? 'node_modules/' : `${path}/node_modules/`
  for (const name of Object.keys(optional)) {
    const nested = `${base}${name}`
    const hoisted = `node_modules/${name}`
    if (!(nested in packages) && !(hoisted in packages)) {
      delete optional[name]
      pruned++
    }
  }
}
const check = process.argv.includes('--check')
if (pruned > 0 && check) {
  console.error(`lock:check: package-lock.json names ${pruned} optional packages it has no entry for; run \`npm run lock:prune\``)
  process.exit(1)
}
if (pruned > 0) {
  writeFileSync(url, `${JSON.stringify(lock, null, 2)}\n`)
  console.log(`prune-lock: dropped ${pruned} optional packages this registry does not serve`)
}
