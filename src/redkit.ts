import { EventEmitter } from 'node:events'
import { Cache, type CacheOptions, LiveDataset, type LiveDatasetOptions } from './cache/index.js'
import { type Codec, guardCodec, jsonCodec } from './core/codec.js'
import { Connection, type ConnectionOptions, type ReconnectingEvent, type Topology } from './core/connection.js'
import type { Closer, RedkitContext } from './core/context.js'
import { type DoctorReport, runDoctor } from './core/doctor.js'
import { ErrorCodes, RedkitError } from './core/errors.js'
import { KeySpace } from './core/keys.js'
import { optionsObject } from './core/validate.js'
import { Expirations, type ExpirationsOptions, Presence, type PresenceOptions } from './events/index.js'
import {
  Inventory,
  type InventoryOptions,
  Lock,
  type LockOptions,
  ReadWriteLock,
  ReentrantLock,
  Semaphore,
  type SemaphoreOptions,
} from './lock/index.js'
import {
  Channel,
  type ChannelOptions,
  Counter,
  EventCounter,
  type JobHandler,
  type JobHandlers,
  Queue,
  type QueueOptions,
  Scheduler,
  Worker,
  type WorkerOptions,
} from './messaging/index.js'
import { SessionManager, type SessionOptions, SingleSignOn, type SsoOptions } from './session/index.js'
import {
  BloomFilter,
  type BloomOptions,
  Leaderboard,
  type LeaderboardOptions,
  RateLimiter,
  type RateLimiterOptions,
  SlidingWindowCounter,
  type SlidingWindowOptions,
  Timeseries,
  type TimeseriesOptions,
  UniqueCounter,
  type UniqueOptions,
} from './stats/index.js'

export interface RedkitOptions extends ConnectionOptions {
  /**
   * First part of every key redkit writes (`<prefix>:{<object>}:<part>`), so several applications
   * can share one Redis. No ':', '{' or '}'.
   * @defaultValue 'rk'
   */
  prefix?: string
  /** How values are stored. @defaultValue JSON with Date and BigInt round-tripping */
  codec?: Codec
  /** Options of `rk.expirations` (retention, sweeping). */
  expirations?: ExpirationsOptions
}

export interface RedkitEvents {
  /** The main connection is (again) ready. */
  ready: []
  /** The connection was lost and redkit is reconnecting with backoff. */
  reconnecting: [ReconnectingEvent]
  /** A connection-level error (scrubbed of secrets). Without a listener, errors are not thrown. */
  error: [RedkitError]
  /** close() finished. */
  close: []
}

/** One application's handle on Redis: connection, keys, codec, and the components built on them. */
export class Redkit extends EventEmitter<RedkitEvents> implements RedkitContext {
  readonly connection: Connection
  readonly keys: KeySpace
  readonly codec: Codec
  readonly #options: RedkitOptions
  readonly #closers = new Set<Closer>()
  #closing: Promise<void> | undefined
  #expirations: Expirations | undefined
  #scheduler: Scheduler | undefined

  constructor(connection: Connection, keys: KeySpace, codec: Codec, options: RedkitOptions = {}) {
    super()
    this.#options = options
    this.connection = connection
    this.keys = keys
    this.codec = codec
    connection.on('ready', () => this.emit('ready'))
    connection.on('reconnecting', (event) => this.emit('reconnecting', event))
    connection.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error)
    })
  }

  get topology(): Topology {
    return this.connection.topology
  }

  get closed(): boolean {
    return this.#closing !== undefined
  }

  /** Expiry events you can rely on: `set`/`expire`/`track` keys, `on(pattern, handler)` to hear them. */
  get expirations(): Expirations {
    this.#expirations ??= new Expirations(this, this.#options.expirations)
    return this.#expirations
  }

  /**
   * Who is online (`redkit/events`): `beat(id, meta?)` heartbeats, `isOnline`, `online()`, `count()`,
   * and `on('online' | 'offline', handler)` transitions, one `offline` per lapse. Stopped by `rk.close()`.
   */
  presence<M = unknown>(name: string, options: PresenceOptions): Presence<M> {
    return new Presence<M>(this, this.expirations, name, optionsObject(options ?? null, 'presence options'))
  }

  /** A reliable job queue (`redkit/messaging`): add jobs here, consume them with `rk.worker`. */
  queue<T = unknown>(name: string, options?: QueueOptions): Queue<T> {
    return new Queue<T>(this, name, optionsObject(options))
  }

  /** Delayed tasks by id (with cancel) and repeating tasks (interval or cron), run once per due time by queue workers. */
  get scheduler(): Scheduler {
    this.#scheduler ??= new Scheduler(this)
    return this.#scheduler
  }

  /**
   * Consumes a queue with leases, retries, dead letters; stopped by `rk.close()`. `handler` is one
   * function for every job, or an object of handlers by job name (`add(data, { name })`).
   */
  worker<T = unknown, R = unknown>(name: string, handler: JobHandler<T, R> | JobHandlers<T, R>, options?: WorkerOptions): Worker<T, R> {
    return new Worker<T, R>(this, name, handler, optionsObject(options))
  }

  /** Typed pub/sub (sharded on Cluster), re-subscribed after reconnects; malformed messages go to `error`. */
  channel<T = unknown>(name: string, options?: ChannelOptions<T>): Channel<T> {
    return new Channel<T>(this, name, optionsObject(options))
  }

  /** An atomic counter: `incr`, `decr`, `reset`, `value`. */
  counter(name: string): Counter {
    return new Counter(this, name)
  }

  /** A counter whose changes are events in a stream, each applied exactly once by any number of consumers. */
  eventCounter(name: string): EventCounter {
    return new EventCounter(this, name)
  }

  /**
   * A mutex across processes (`redkit/lock`): `acquire`, `tryAcquire`, `release`, `extend`, `using`,
   * a fencing `token`, a watchdog and `onLost`. One Lock object holds at most one hold at a time.
   */
  lock(name: string, options?: LockOptions): Lock {
    return new Lock(this, name, optionsObject(options))
  }

  /** A mutex its owner may re-take (`redkit/lock`): a hold count per handle, or per async context in `using`. */
  reentrantLock(name: string, options?: LockOptions): ReentrantLock {
    return new ReentrantLock(this, name, optionsObject(options))
  }

  /** A fair counting semaphore with expiring permits (`redkit/lock`); one handle holds one permit. */
  semaphore(name: string, options: SemaphoreOptions): Semaphore {
    return new Semaphore(this, name, optionsObject(options ?? null, 'semaphore options'))
  }

  /**
   * Stock with reservations that return their units when they lapse (`redkit/lock`): `reserve`,
   * `confirm`, `cancel`, never oversold; lapses are reliable expiry events. Stopped by `rk.close()`.
   */
  inventory(name: string, options?: InventoryOptions): Inventory {
    return new Inventory(this, name, options, () => this.expirations)
  }

  /** A fair read-write lock with writer preference (`redkit/lock`): `reader()`, `writer()`, `read(fn)`, `write(fn)`. */
  readWriteLock(name: string, options?: LockOptions): ReadWriteLock {
    return new ReadWriteLock(this, name, optionsObject(options))
  }

  /**
   * A Redis cache (`redkit/cache`): `getOrLoad` in one round trip on a hit, stampede protection across
   * processes, negative caching, jitter, stale-while-revalidate, refresh-ahead, a near cache kept
   * coherent by client tracking, tags, write-through/around/behind. Stopped (write-behind flushed) by `rk.close()`.
   */
  cache<T = unknown>(name: string, options?: CacheOptions<T>): Cache<T> {
    return new Cache<T>(this, name, optionsObject(options), () => this.expirations)
  }

  /** A whole dataset kept in every instance's memory, reloaded everywhere on `publishUpdate(version)` (`redkit/cache`). */
  liveDataset<T = unknown>(name: string, options: LiveDatasetOptions<T>): LiveDataset<T> {
    return new LiveDataset<T>(this, name, optionsObject(options ?? null, 'liveDataset options'))
  }

  /**
   * Login sessions (`redkit/session`): `create`, `get` (one HMGET; the access and idle slide are written about once a second),
   * `rotate`, `destroy`, `listForUser`, `destroyAllForUser`; idle and absolute timeouts, signed
   * tokens, client binding, CSRF tokens, and `onExpired` with `trackExpiry`.
   */
  sessions<D = unknown>(options?: SessionOptions): SessionManager<D> {
    return new SessionManager<D>(this, optionsObject(options), () => this.expirations)
  }

  /**
   * Single sign-on (`redkit/session`): a global login shared by the applications of a realm, a
   * session per application joined to it (`login`, `join`, `get`), `logout` across apps,
   * `logoutEverywhere`, a combined `view`; idle and absolute timeouts at both levels.
   */
  sso<D = unknown>(options: SsoOptions): SingleSignOn<D> {
    return new SingleSignOn<D>(this, optionsObject(options ?? null, 'sso options') as SsoOptions, () => this.expirations)
  }

  /** A Bloom filter in a Redis bitmap (`redkit/stats`): `add`, `mightContain` and bulk variants, one round trip each. */
  bloom(name: string, options: BloomOptions): BloomFilter {
    return new BloomFilter(this, name, optionsObject(options ?? null, 'bloom options'))
  }

  /** A rate limiter (`redkit/stats`): `consume(key, cost)` in one round trip on the server's clock, `peek`, `reset`. */
  rateLimiter(name: string, options: RateLimiterOptions): RateLimiter {
    return new RateLimiter(this, name, optionsObject(options ?? null, 'rateLimiter options'))
  }

  /** A leaderboard (`redkit/stats`): `add`, `incr` (new score and rank in one call), `top`, `rank`, `around`, `page`, `remove`, `size`. */
  leaderboard(name: string, options?: LeaderboardOptions): Leaderboard {
    return new Leaderboard(this, name, optionsObject(options))
  }

  /** Counts per minute, hour, day and month (`redkit/stats`): `incr(n, at?)` in one round trip, `range({ from, to, granularity })`. */
  timeseries(name: string, options?: TimeseriesOptions): Timeseries {
    return new Timeseries(this, name, optionsObject(options))
  }

  /** Unique counts in HyperLogLogs per hour or day (`redkit/stats`): `add(member, at?)`, `count({ from, to })` over merged buckets. */
  unique(name: string, options?: UniqueOptions): UniqueCounter {
    return new UniqueCounter(this, name, options)
  }

  /** A count over the last `windowMs` on the server's clock, in buckets of `precisionMs` (`redkit/stats`): `incr`, `count`. */
  slidingWindow(name: string, options: SlidingWindowOptions): SlidingWindowCounter {
    return new SlidingWindowCounter(this, name, options)
  }

  /** Round-trip time of a PING, in ms. */
  async ping(): Promise<number> {
    const start = performance.now()
    await this.connection.send(['PING'])
    return performance.now() - start
  }

  /** Checks the server configuration against what redkit needs; every finding carries its exact fix. */
  doctor(): Promise<DoctorReport> {
    return runDoctor(this.connection)
  }

  /** Registers a component's shutdown; returns a function that unregisters it. */
  onClose(closer: Closer): () => void {
    if (this.#closing) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    this.#closers.add(closer)
    return () => this.#closers.delete(closer)
  }

  /**
   * Stops every component (workers finish or return their jobs, write-behind is flushed), then
   * releases every connection and timer so the process can exit. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closers = [...this.#closers].reverse()
      this.#closers.clear()
      const results = await Promise.allSettled(closers.map((closer) => closer()))
      await this.connection.close()
      this.emit('close')
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
    })()
    return this.#closing
  }
}

/**
 * Connects to Redis (standalone URL, Cluster, Sentinel, or an existing node-redis client) and
 * resolves once the connection is ready.
 * @throws RedkitError E_CONNECTION when the server cannot be reached within connectTimeoutMs,
 * E_AUTH when it refuses the credentials, E_INVALID_KEY for a bad prefix.
 */
export async function createRedkit(options: RedkitOptions = {}): Promise<Redkit> {
  if (options === null || typeof options !== 'object')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'createRedkit needs an options object')
  const keys = new KeySpace(options.prefix ?? 'rk')
  const codec = guardCodec(options.codec ?? jsonCodec)
  const connection = await Connection.open(options)
  return new Redkit(connection, keys, codec, options)
}
