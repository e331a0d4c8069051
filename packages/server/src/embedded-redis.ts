import { rmSync } from 'node:fs'
import { ErrorCodes, RedkitError, redactUrlCredentials } from 'redkit'
import { pingTcp, type RedisProcess, startRedisServer } from './redis-process.js'

/**
 * Which Redis the service runs on:
 * 1. `REDIS_URL` / `--redis-url` when given;
 * 2. else a server already answering PING on 127.0.0.1:6379 (`REDKIT_DEFAULT_REDIS_PORT` moves the probe);
 * 3. else an embedded `redis-server` child on a free port, in a temp dir, persistence off, stopped with the service.
 */
export type RedisSource = 'url' | 'local' | 'embedded'

export interface ResolvedRedis {
  source: RedisSource
  /** The URL to connect to (may hold a password: never print it, print `displayUrl`). */
  url: string
  /** `url` with the password replaced by `***`. */
  displayUrl: string
  /** The child process when `source` is 'embedded'. */
  embedded?: RedisProcess
  /** One line for the console saying which Redis is used and why. */
  description: string
  /** Stops the embedded server (no-op otherwise). Idempotent. */
  stop(): Promise<void>
}

export interface ResolveRedisOptions {
  /** Explicit URL (flag or REDIS_URL); empty means absent. */
  redisUrl?: string | undefined
  /** Where to look for an already running server. @defaultValue '127.0.0.1' */
  localHost?: string
  /** @defaultValue REDKIT_DEFAULT_REDIS_PORT or 6379 */
  localPort?: number
  /** How long the local probe waits for +PONG. @defaultValue 500 */
  probeTimeoutMs?: number
  /** Passed to startRedisServer (tests point it at a missing binary). @defaultValue REDKIT_REDIS_SERVER or 'redis-server' */
  binary?: string
}

export const DEFAULT_LOCAL_REDIS_PORT = 6379

/** The port probed for an already running Redis: `REDKIT_DEFAULT_REDIS_PORT`, else 6379. */
export function defaultLocalRedisPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.REDKIT_DEFAULT_REDIS_PORT
  if (raw === undefined || raw === '') return DEFAULT_LOCAL_REDIS_PORT
  return parsePort(raw, 'REDKIT_DEFAULT_REDIS_PORT')
}

/** Integer 0..65535, or RedkitError E_INVALID_ARGUMENT naming `what`. */
export function parsePort(value: string | number, what: string): number {
  const text = String(value).trim()
  const port = Number(text)
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be a port number (0-65535), got '${text}'`)
  }
  return port
}

/** A Redis URL safe to print: the password becomes `***`, the rest is kept. */
export function displayRedisUrl(url: string): string {
  // One redaction for the library, the CLI and the service: also for malformed URLs
  // (`redis:/:secret@host`), which parse as a path and would print as given.
  return redactUrlCredentials(url)
}

export async function resolveRedis(options: ResolveRedisOptions = {}): Promise<ResolvedRedis> {
  const noop = async () => {}
  if (options.redisUrl) {
    const displayUrl = displayRedisUrl(options.redisUrl)
    return { source: 'url', url: options.redisUrl, displayUrl, description: `redis: using ${displayUrl} (REDIS_URL)`, stop: noop }
  }

  const host = options.localHost ?? '127.0.0.1'
  const port = options.localPort ?? defaultLocalRedisPort()
  if (await pingTcp(host, port, options.probeTimeoutMs ?? 500)) {
    const url = `redis://${host}:${port}`
    return {
      source: 'local',
      url,
      displayUrl: url,
      description: `redis: no REDIS_URL; using the server already running at ${url} (set REDIS_URL to choose another)`,
      stop: noop,
    }
  }

  // Persistence off: the embedded server is a scratch database that lives as long as the service.
  const server = await startRedisServer({
    host: '127.0.0.1',
    args: ['--save', '', '--appendonly', 'no'],
    ...(options.binary === undefined ? {} : { binary: options.binary }),
  })
  // If the service dies without stopping it (uncaught exception, process.exit), do not leave it behind.
  const onExit = () => {
    server.signal('SIGTERM')
    try {
      rmSync(server.dir, { recursive: true, force: true })
    } catch {
      // best effort
    }
  }
  process.once('exit', onExit)
  let stopping: Promise<void> | undefined
  return {
    source: 'embedded',
    url: server.url,
    displayUrl: server.url,
    embedded: server,
    description:
      `redis: no REDIS_URL and nothing answering on ${host}:${port}; started an embedded redis-server ` +
      `(pid ${server.pid}) at ${server.url}, data dir ${server.dir} (persistence off, stopped with the service)`,
    stop() {
      stopping ??= (async () => {
        process.removeListener('exit', onExit)
        await server.stop()
      })()
      return stopping
    },
  }
}
