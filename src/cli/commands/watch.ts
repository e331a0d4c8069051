import { hostname } from 'node:os'
import { redactUrlCredentials } from '../../core/errors.js'
import { compileGlob } from '../../core/glob.js'
import type { ExpiryEvent, Subscription } from '../../events/index.js'
import { createRedkit, type Redkit, type RedkitOptions } from '../../redkit.js'
import { type CommandSpec, timeoutOption } from '../args.js'
import { exit, fail, formatError, redisTarget } from '../output.js'

export const DEFAULT_WATCH_URL = 'redis://127.0.0.1:6379'
const CLOSE_TIMEOUT_MS = 3000

interface WatchFlags {
  reliable?: boolean
  group?: string
  redisUrl?: string
  cluster?: boolean
  prefix: string
  json?: boolean
  timeout: number
}

/**
 * `redkit watch <pattern>`: prints expirations live, one line each, until Ctrl-C (exit 0).
 * Native mode (default) shows any key, through keyspace notifications; `--reliable` shows the keys
 * written through redkit (`rk.expirations.set/expire/track`), from a consumer group of its own.
 * Exit codes: 0 stopped by Ctrl-C / SIGTERM, 1 could not start (bad pattern, unreachable Redis,
 * notifications off and CONFIG disabled).
 */
export const watchCommand: CommandSpec<WatchFlags> = {
  name: 'watch',
  summary: 'print key expirations live (native keyspace notifications, or --reliable redkit events)',
  positionals: [{ name: 'pattern', help: "glob on key names, as in Redis: '*', 'cache:*', 'device:?', 'user:[0-9]*'" }],
  options: {
    reliable: { type: 'boolean', help: 'watch reliable-mode expirations (keys set through redkit) instead of native notifications' },
    group: { type: 'string', value: 'group', help: 'consumer group for --reliable (default: watch-<hostname>-<pid>, a group of its own)' },
    redisUrl: { type: 'string', value: 'url', help: `Redis to watch (default: $REDIS_URL, else ${DEFAULT_WATCH_URL})` },
    cluster: { type: 'boolean', help: 'the URL is a Cluster seed node (several may be given, comma-separated); every master is watched' },
    prefix: { type: 'string', value: 'prefix', help: 'key prefix of the application, for --reliable (default: rk)', default: 'rk' },
    json: { type: 'boolean', help: 'print one JSON object per line' },
    timeout: timeoutOption(5000),
  },
  epilog: [
    'Native mode is fire-and-forget: Redis publishes an expiry when it deletes the key (possibly',
    'seconds late) to the subscribers connected at that moment; nothing is replayed. It needs',
    'notify-keyspace-events to include "Ex" (set when CONFIG is allowed; see docs/events.md).',
    'With --group, do not join a group your application consumes: the watcher would take its events.',
    '',
    'Exit codes: 0 stopped by Ctrl-C, 1 could not start.',
  ].join('\n'),
  usageExitCode: 1,
  run: ([pattern], flags) => runWatch(pattern as string, flags),
}

async function runWatch(pattern: string, flags: WatchFlags): Promise<void> {
  const { connection, urls, secrets } = redisTarget(flags, DEFAULT_WATCH_URL)
  const mode = flags.reliable ? 'reliable' : 'native'
  if (flags.group !== undefined && !flags.reliable) return fail('watch', new Error('--group needs --reliable'), 1)
  try {
    compileGlob(pattern)
  } catch (error) {
    return fail('watch', error, 1, secrets)
  }
  const group = flags.group ?? `watch-${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${process.pid}`

  const options: RedkitOptions = {
    ...connection,
    prefix: flags.prefix,
    connectTimeoutMs: flags.timeout,
  }
  let rk: Redkit
  try {
    rk = await createRedkit(options)
  } catch (error) {
    return fail('watch', error, 1, secrets)
  }

  const print = (event: ExpiryEvent) => {
    process.stdout.write(`${flags.json ? JSON.stringify(toJson(event)) : formatLine(event)}\n`)
  }
  rk.expirations.events.on('error', (error) => {
    process.stderr.write(`redkit watch: ${formatError(error, secrets)}\n`)
  })

  let subscription: Subscription
  try {
    subscription = await rk.expirations.on(
      pattern,
      print,
      mode === 'reliable' ? { mode, group, from: 'new', temporary: flags.group === undefined } : { mode },
    )
  } catch (error) {
    await rk.close().catch(() => {})
    return fail('watch', error, 1, secrets)
  }

  // Handlers first: whoever reads the line below may press Ctrl-C at once.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false
    const stop = () => {
      if (stopping) {
        // A second Ctrl-C: do not wait for a graceful close.
        process.exit(130)
      }
      stopping = true
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  const target = redactUrlCredentials(urls.join(','))
  process.stderr.write(
    `redkit watch: watching ${mode} expirations of ${JSON.stringify(pattern)} on ${target}${mode === 'reliable' ? ` (group ${group})` : ''}; Ctrl-C to stop\n`,
  )

  await stopped
  // Bounded: with Redis unreachable, a graceful close may wait for commands that cannot finish.
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    (async () => {
      await subscription.close()
      await rk.close()
      return true
    })().catch((error: unknown) => {
      process.stderr.write(`redkit watch: ${formatError(error, secrets)}\n`)
      return true
    }),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS)
    }),
  ])
  clearTimeout(timer)
  if (!closed) process.stderr.write(`redkit watch: Redis did not answer within ${CLOSE_TIMEOUT_MS} ms; stopped without a graceful close\n`)
  return exit(0)
}

/** `2026-01-01T12:00:00.123Z  expired  <key>  late 12 ms` (lateness only in reliable mode). */
export function formatLine(event: ExpiryEvent): string {
  const late = event.lateMs === undefined ? '' : `  late ${event.lateMs} ms`
  return `${new Date(event.firedAt).toISOString()}  expired  ${printable(event.key)}${late}`
}

function toJson(event: ExpiryEvent): Record<string, unknown> {
  return {
    time: new Date(event.firedAt).toISOString(),
    key: event.key,
    id: event.id,
    mode: event.mode,
    firedAt: event.firedAt,
    deadline: event.deadline ?? null,
    lateMs: event.lateMs ?? null,
    attempt: event.attempt,
  }
}

/** Keys set by anyone may hold control characters or spaces: quote those so one event stays one line. */
function printable(key: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting them is the point
  return /[\u0000-\u001f\u007f\s]/.test(key) ? JSON.stringify(key) : key
}
