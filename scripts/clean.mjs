// Removes the build output given as arguments (relative to the working directory), so a build
// never ships files left over from an older layout.
import { rmSync } from 'node:fs'

for (const dir of process.argv.slice(2)) rmSync(dir, { recursive: true, force: true })
