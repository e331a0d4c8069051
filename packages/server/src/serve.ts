import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createRedkit, ErrorCodes, isRedkitError, type Redkit, RedkitError } from 'redkit'
import { buildApp } from './app.js'
import { type DemoDatabase, defaultPgliteDir, displayDatabaseUrl, MEMORY, openDatabase } from './db.js'
import { defaultLocalRedisPort, parsePort, type ResolvedRedis, resolveRedis } from './embedded-redis.js'
import { Scenarios } from './scenarios.js'

export interface ServeFlags {
  port?: string | number | undefined
  host?: string | undefined
  redisUrl?: string | undefined
  databaseUrl?: string | undefined
}

export interface ServeConfig {
  port: number
  host: string
  /** Undefined: use a local server on `localRedisPort` or start an embedded one. */
  redisUrl: string | undefined
  localRedisPort: number
  /** `postgres://...` (`DATABASE_URL`); undefined: the embedded PGlite. */
  databaseUrl: string | undefined
  /** PGlite's data directory (`PGLITE_DIR`, `memory://` for none): the user's data directory by default ({@link defaultPgliteDir}). */
  pgliteDir: string
  /** Fastify/pino log level (`LOG_LEVEL`). */
  logLevel: string
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** Flags win over the environment: `--port`/`PORT` (3000), `--host`/`HOST` (127.0.0.1), `--redis-url`/`REDIS_URL`, `--database-url`/`DATABASE_URL`; `PGLITE_DIR`. */
export function resolveServeConfig(flags: ServeFlags = {}, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const pick = (flag: string | number | undefined, name: string) => {
    if (flag !== undefined && flag !== '') return String(flag)
    const value = env[name]
    return value === undefined || value === '' ? undefined : value
  }
  const portText = pick(flags.port, 'PORT')
  const logLevel = env.LOG_LEVEL || 'warn'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)
  }
  return {
    port: portText === undefined ? 3000 : parsePort(portText, flags.port !== undefined && flags.port !== '' ? '--port' : 'PORT'),
    host: pick(flags.host, 'HOST') ?? '127.0.0.1',
    redisUrl: pick(flags.redisUrl, 'REDIS_URL'),
    localRedisPort: defaultLocalRedisPort(env),
    databaseUrl: pick(flags.databaseUrl, 'DATABASE_URL'),
    pgliteDir: pick(undefined, 'PGLITE_DIR') ?? defaultPgliteDir(env),
    logLevel,
  }
}

export interface RunningService {
  /** Base URL the service answers on, e.g. `http://127.0.0.1:3000`. */
  url: string
  redis: ResolvedRedis
  rk: Redkit
  /** The demo database's opening: the service listens before it is open (routes that need it answer 503 meanwhile). */
  database: Promise<DemoDatabase>
  scenarios: Scenarios
  app: FastifyInstance
  /** Closes Fastify (and the scenarios), then redkit, the database, then the embedded redis-server. Idempotent. */
  close(): Promise<void>
}

export interface StartServiceOptions {
  /** Where status lines go. @defaultValue console.log */
  print?: (line: string) => void
}

/** Resolves Redis, connects, and starts listening. Everything started is stopped again if a later step fails. */
export async function startService(config: ServeConfig, options: StartServiceOptions = {}): Promise<RunningService> {
  const print = options.print ?? ((line: string) => console.log(line))
  // Redis first: without it nothing runs, and a missing redis-server is reported at once (PGlite takes seconds to open).
  const redis = await resolveRedis({ redisUrl: config.redisUrl, localPort: config.localRedisPort })
  print(redis.description)
  let rk: Redkit | undefined
  let database: DatabaseOpening | undefined
  let app: FastifyInstance | undefined
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      // In order: stop taking requests, release Redis connections, then stop the server they used.
      const errors: unknown[] = []
      for (const step of [() => app?.close(), () => rk?.close(), () => closeDatabase(database), () => redis.stop()]) {
        try {
          await step()
        } catch (error) {
          errors.push(error)
        }
      }
      if (errors.length > 0) throw errors[0]
    })()
    return closing
  }
  try {
    rk = await connect(redis)
    watchConnection(rk, (line) => {
      if (!closing) print(line)
    })
    redis.embedded?.exited.then((code) => {
      if (!closing)
        print(
          `redis: the embedded redis-server exited unexpectedly (${code === null ? 'killed by a signal' : `code ${code}`}); /health now answers 503`,
        )
    })
    // Opened meanwhile: the routes on Redis alone answer at once, those that need the database answer 503 until it is open.
    const started = performance.now()
    print(
      config.databaseUrl
        ? `database: connecting to ${displayDatabaseUrl(config.databaseUrl)} (DATABASE_URL)`
        : `database: opening the embedded PGlite, data in ${config.pgliteDir === MEMORY ? 'memory' : path.resolve(config.pgliteDir)} (PGLITE_DIR); the routes that need it answer 503 until it is open`,
    )
    const opening: DatabaseOpening = { promise: openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.pgliteDir }) }
    database = opening
    opening.promise.then(
      (db) => {
        opening.db = db
      },
      () => {},
    )
    const scenarios = new Scenarios(rk, opening.promise)
    try {
      await scenarios.start()
      // Open, and Redis seeded from it (stock, the user-id filter): every route answers from here on.
      scenarios.databaseReady().then(
        () => {
          if (!closing) print(`${opening.db?.description} (open in ${((performance.now() - started) / 1000).toFixed(1)} s)`)
        },
        (error: unknown) => {
          if (!closing)
            print(
              `database: cannot open it (${error instanceof Error ? error.message : String(error)}); the routes that need it answer 503`,
            )
        },
      )
      app = await buildApp({ rk, scenarios, logger: { level: config.logLevel } })
    } catch (error) {
      await scenarios.close().catch(() => {})
      throw error
    }
    try {
      await app.listen({ port: config.port, host: config.host })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new Error(`${config.host}:${config.port} is already in use: choose another with PORT or --port`)
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
        throw new Error(`cannot listen on host '${config.host}' (${code}): check HOST or --host`)
      throw error
    }
    const url = baseUrl(app, config.host)
    print(`redkit service listening on ${url}  (dashboard: ${url}/, health: ${url}/health, metrics: ${url}/metrics)`)
    return { url, redis, rk, database: opening.promise, scenarios, app, close }
  } catch (error) {
    await close().catch(() => {})
    throw error
  }
}

interface DatabaseOpening {
  promise: Promise<DemoDatabase>
  /** Set once it is open. */
  db?: DemoDatabase
}

/**
 * An open database is closed; one still opening is closed once it is open, without waiting for it
 * (PGlite can take 20 s; a shutdown must not). A process that exits meanwhile ends the opening:
 * PGlite writes a new directory only at the end of its creation, so the next start creates it again.
 */
async function closeDatabase(database: DatabaseOpening | undefined): Promise<void> {
  if (!database) return
  if (database.db) await database.db.close()
  else database.promise.then((db) => db.close()).catch(() => {})
}

async function connect(redis: ResolvedRedis): Promise<Redkit> {
  try {
    return await createRedkit({ url: redis.url })
  } catch (error) {
    if (redis.source === 'local' && isRedkitError(error, ErrorCodes.E_AUTH)) {
      throw new RedkitError(
        ErrorCodes.E_AUTH,
        `the Redis at ${redis.displayUrl} requires a password: set REDIS_URL (or --redis-url) to its URL including the password`,
        { cause: error },
      )
    }
    throw error
  }
}

/** One line when the connection drops and one when it is back, not one per reconnect attempt. */
function watchConnection(rk: Redkit, print: (line: string) => void): void {
  let down = false
  rk.on('reconnecting', (event) => {
    if (down) return
    down = true
    print(`redis: connection lost (${event.error.message}); reconnecting`)
  })
  rk.on('ready', () => {
    if (!down) return
    down = false
    print('redis: connection restored')
  })
}

function baseUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address() as AddressInfo
  let shown = host
  if (host === '0.0.0.0') shown = '127.0.0.1'
  else if (host === '::') shown = '[::1]'
  else if (host.includes(':')) shown = `[${host}]`
  return `http://${shown}:${address.port}`
}

export interface RunServiceOptions extends StartServiceOptions {
  /** Print errors here. @defaultValue console.error */
  printError?: (line: string) => void
  /** Longest graceful shutdown before a forced exit 1. @defaultValue 10_000 */
  shutdownTimeoutMs?: number
}

/**
 * `redkit serve`: starts the service and stops it on SIGINT/SIGTERM (Fastify, then redkit, then
 * the embedded redis-server), exiting 0. A second signal, or a shutdown longer than the timeout,
 * forces exit 1. Startup failures are thrown to the caller.
 */
export async function runService(config: ServeConfig, options: RunServiceOptions = {}): Promise<RunningService> {
  const print = options.print ?? ((line: string) => console.log(line))
  const printError = options.printError ?? ((line: string) => console.error(line))
  const service = await startService(config, { print })
  let stopping = false
  const forceExit = (reason: string) => {
    printError(`redkit serve: ${reason}; forcing exit`)
    service.redis.embedded?.signal('SIGKILL')
    process.exit(1)
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return forceExit(`second ${signal} during shutdown`)
    stopping = true
    print(`received ${signal}, shutting down`)
    const timeoutMs = options.shutdownTimeoutMs ?? 10_000
    setTimeout(() => forceExit(`shutdown took longer than ${timeoutMs} ms`), timeoutMs).unref()
    service.close().then(
      () => {
        print('stopped')
        process.exit(0)
      },
      (error: unknown) => {
        printError(`redkit serve: error during shutdown: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return service
}
