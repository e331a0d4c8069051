import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'

/**
 * Debian's chromium for the browser tests (driven by playwright-core, which never downloads a
 * browser). When it is missing and we are root (CI, the dev machines), it is installed with
 * apt-get, as `scripts/ensure-redis.mjs` does for redis-server; otherwise the test fails naming the command.
 */
const CANDIDATES = [process.env.REDKIT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  (candidate): candidate is string => typeof candidate === 'string' && candidate !== '',
)

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export function ensureChromium(): string {
  const found = CANDIDATES.find(executable)
  if (found) return found
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']
  if (process.getuid?.() !== 0) {
    throw new Error(
      `chromium not found (looked at ${CANDIDATES.join(', ')}): install it with \`sudo ${install.join(' ')}\` or set REDKIT_CHROMIUM`,
    )
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['apt-get', 'update', '-qq'], install]) {
    const [command, ...rest] = args as [string, ...string[]]
    const result = spawnSync(command, rest, { stdio: ['ignore', 'inherit', 'inherit'], env, timeout: 600_000 })
    if (result.status !== 0) throw new Error(`\`${args.join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})`)
  }
  const installed = CANDIDATES.find(executable)
  if (!installed) throw new Error('chromium was installed but is not at /usr/bin/chromium')
  return installed
}
