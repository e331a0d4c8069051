#!/usr/bin/env node
// Makes sure redis-server and redis-cli are installed before the test suite starts its throwaway
// servers (test/support/global-setup.ts). Silent when both are on PATH. Otherwise installs the
// Debian/Ubuntu package when it can (root, or passwordless sudo), else explains and exits 1.
// Installing the package may start a system redis on 6379; the tests never use it.
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import path from 'node:path'

// `--service` (npm start): only redis-server matters, nothing is needed when REDIS_URL is set, and a
// failure to install is a warning: a Redis may already answer on 6379, and otherwise the service
// itself stops with the install command.
const SERVICE = process.argv.includes('--service')
if (SERVICE && process.env.REDIS_URL) process.exit(0)
const BINARIES = SERVICE
  ? [process.env.REDKIT_REDIS_SERVER ?? 'redis-server']
  : [process.env.REDKIT_REDIS_SERVER ?? 'redis-server', process.env.REDKIT_REDIS_CLI ?? 'redis-cli']
const INSTALL = 'apt-get install -y redis-server'

function onPath(binary) {
  const candidates = binary.includes(path.sep)
    ? [binary]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, binary))
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

const missingBinaries = () => BINARIES.filter((binary) => !onPath(binary))

function run(command, args) {
  console.error(`ensure-redis: ${[command, ...args].join(' ')}`)
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  if (result.error) {
    console.error(`ensure-redis: cannot run ${command}: ${result.error.message}`)
    return false
  }
  return result.status === 0
}

function canSudo() {
  if (!onPath('sudo')) return false
  const result = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' })
  return !result.error && result.status === 0
}

function explain(missing, reason) {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo '
  console.error(
    [
      SERVICE
        ? `ensure-redis: ${missing.join(' and ')} not found on PATH; without REDIS_URL or a Redis on 127.0.0.1:6379 the service needs it.`
        : `ensure-redis: ${missing.join(' and ')} not found on PATH; the test suite starts its own throwaway Redis servers and needs both.`,
      reason ? `ensure-redis: ${reason}` : undefined,
      SERVICE ? 'Install it, then start the service again:' : 'Install them, then run the tests again:',
      `  Debian/Ubuntu: ${sudo}apt-get update && ${sudo}${INSTALL}`,
      '  macOS:         brew install redis',
      'Or set REDKIT_REDIS_SERVER / REDKIT_REDIS_CLI to the binaries.',
    ]
      .filter(Boolean)
      .join('\n'),
  )
  process.exit(SERVICE ? 0 : 1)
}

const missing = missingBinaries()
if (missing.length === 0) process.exit(0)

if (process.platform !== 'linux' || !onPath('apt-get')) {
  explain(missing, 'apt-get is not available here, so it cannot install them by itself.')
}

let prefix
if (process.getuid?.() === 0) prefix = []
else if (canSudo()) prefix = ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive']
else explain(missing, 'not running as root and `sudo -n` is not available, so it cannot install them by itself.')

const apt = (...args) => (prefix.length > 0 ? run(prefix[0], [...prefix.slice(1), 'apt-get', ...args]) : run('apt-get', args))

console.error(`ensure-redis: ${missing.join(' and ')} missing; installing redis-server with apt-get`)
if (!apt('update') || !apt('install', '-y', 'redis-server')) {
  explain(missing, 'apt-get failed (see above).')
}
const stillMissing = missingBinaries()
if (stillMissing.length > 0) explain(stillMissing, 'still missing after installing redis-server.')
console.error(`ensure-redis: ${BINARIES.join(' and ')} installed`)
