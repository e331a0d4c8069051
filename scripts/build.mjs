// `npm run build` (and `prepack`): a clean dist/ compiled from src/, with the Lua scripts beside
// the compiled code so `new URL('../lua/', import.meta.url)` finds them from src/ and dist/ alike.
import { spawnSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const root = new URL('../', import.meta.url)
rmSync(new URL('dist/', root), { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
if (result.status !== 0) process.exit(result.status ?? 1)
cpSync(new URL('src/lua/', root), new URL('dist/lua/', root), { recursive: true })
