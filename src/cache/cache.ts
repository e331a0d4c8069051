import { randomBytes } from 'node:crypto'
import { withTimeout } from '../core/async.js'
import type { Codec } from '../core/codec.js'
import { EmitterComponent } from '../core/component.js'
import type { Connection } from '../core/connection.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, errors, isRedkitError, RedkitError, toRedkitError } from '../core/errors.js'
import { byteSize, durationMs, optionsObject, timerMs } from '../core/validate.js'
import type { Expirations } from '../events/index.js'
import { BloomFilter } from '../stats/index.js'
import { CacheKeys } from './cache-keys.js'
import { type EncodedValue, encodeValue, entryText, exceedsBytes, KIND_ABSENT, KIND_JSON, type ParsedEntry, parseHeader } from './entry.js'
import { jitterTtl, validateFraction } from './jitter.js'
import { Limiter } from './limiter.js'
import { message, parseMessage } from './messages.js'
import { NearCache } from './near.js'
import { ExpiryReloader } from './reload.js'
import { scripts } from './scripts.js'
import { TagIndex } from './tags.js'
import type {
  CacheEvents,
  CacheOptions,
  CacheSetOptions,
  CacheStats,
  CacheWriter,
  GetOrLoadOptions,
  Loader,
  RefreshEvent,
} from './types.js'
import { Waiters } from './waiters.js'
import { WriteBehind } from './write-behind.js'

/** Returned by the read path when Redis has no usable entry. */
const MISS: unique symbol = Symbol('miss')
/** Stored in the near cache for a cached "absent". */
const ABSENT: unique symbol = Symbol('absent')
const FAR_FUTURE = 9e15
/** Scratch header of the read path (synchronous use only, so one per process is enough). */
const HEADER: ParsedEntry = { kind: 0, createdAt: 0, freshUntil: 0, body: 0 }

type LoadMode = { kind: 'miss' } | { kind: 'refresh'; reason: RefreshEvent['reason']; createdAfter: number; background: boolean }

interface StoreOptions<T> {
  ttlMs: number | undefined
  tags: GetOrLoadOptions<T>['tags']
}

/**
 * A Redis cache with an optional in-process tier: cache-aside reads in one round trip, single-flight
 * and cross-process stampede protection, negative caching, TTL jitter, stale-while-revalidate,
 * refresh-ahead, tags, write-through/around/behind, and reloads on expiry. See docs/cache.md.
 */
export class Cache<T = unknown> extends EmitterComponent<CacheEvents> {
  /** Counters since creation. */
  readonly stats: CacheStats = {
    hits: 0,
    nearHits: 0,
    misses: 0,
    loads: 0,
    loadErrors: 0,
    stale: 0,
    refreshes: 0,
    fallbacks: 0,
    errors: 0,
  }
  /** The penetration guard, when configured. */
  readonly bloom: BloomFilter | undefined
  readonly #rk: RedkitContext
  readonly #connection: Connection
  readonly #codec: Codec
  readonly #keys: CacheKeys
  readonly #ttlMs: number
  readonly #jitter: number
  readonly #negativeTtlMs: number | undefined
  readonly #swrMs: number
  readonly #refreshAhead: number | undefined
  readonly #loadTimeoutMs: number
  readonly #maxValueBytes: number
  readonly #distributed: boolean
  readonly #loader: Loader<T> | undefined
  readonly #writeMode: CacheOptions<T>['write']
  readonly #writer: CacheWriter<T> | undefined
  readonly #near: NearCache | undefined
  readonly #fallback: Limiter | undefined
  readonly #writeBehind: WriteBehind<T> | undefined
  readonly #reloader: ExpiryReloader | undefined
  readonly #tags: TagIndex
  readonly #flights = new Map<string, Promise<T | undefined>>()
  readonly #refreshing = new Set<string>()
  readonly #waiters = new Waiters()
  readonly #instance = randomBytes(6).toString('hex')
  #subscribed: Promise<unknown> | undefined
  #unsubscribe: (() => Promise<void>) | undefined

  constructor(rk: RedkitContext, name: string, options: CacheOptions<T> = {}, expirations?: () => Expirations) {
    optionsObject(options, 'cache options')
    const keys = new CacheKeys(rk.keys, name)
    // Registered with rk.close() at the end of construction (attach below), once nothing can throw.
    super({ name: keys.name, kind: 'cache', scrubber: rk.connection.scrubber })
    this.#rk = rk
    this.#connection = rk.connection
    this.#codec = rk.codec
    this.#keys = keys
    this.#ttlMs = durationMs(options.ttlMs ?? 60_000, 'ttlMs')
    this.#jitter = validateFraction(options.jitter ?? 0.1, 'jitter')
    this.#negativeTtlMs = options.negativeTtlMs === undefined ? undefined : durationMs(options.negativeTtlMs, 'negativeTtlMs')
    this.#swrMs = durationMs(options.staleWhileRevalidateMs ?? 0, 'staleWhileRevalidateMs', { allowZero: true })
    this.#refreshAhead =
      options.refreshAhead === undefined
        ? undefined
        : validateFraction(options.refreshAhead, 'refreshAhead', { allowZero: false, allowOne: false })
    this.#loadTimeoutMs = timerMs(options.loadTimeoutMs ?? 10_000, 'loadTimeoutMs')
    this.#maxValueBytes = byteSize(options.maxValueBytes ?? 1_048_576, 'maxValueBytes')
    const stampede = options.stampede ?? 'distributed'
    if (stampede !== 'local' && stampede !== 'distributed')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `stampede must be 'local' or 'distributed', got ${String(stampede)}`)
    this.#distributed = stampede === 'distributed'
    if (options.loader !== undefined && typeof options.loader !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'loader must be a function')
    this.#loader = options.loader
    this.#writer = normalizeWriter(options.writer)
    this.#writeMode = options.write
    if (this.#writeMode !== undefined) {
      if (!['around', 'through', 'behind'].includes(this.#writeMode))
        throw new RedkitError(
          ErrorCodes.E_INVALID_ARGUMENT,
          `write must be 'around', 'through' or 'behind', got ${String(this.#writeMode)}`,
        )
      if (!this.#writer) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `write: '${this.#writeMode}' needs a writer`)
    }
    this.#fallback =
      options.fallback === false ? undefined : new Limiter(options.fallback?.concurrency ?? 8, options.fallback?.maxWaiting ?? 1000)
    this.#tags = new TagIndex(this.#connection, this.#keys)
    this.bloom =
      options.bloom === undefined
        ? undefined
        : options.bloom instanceof BloomFilter
          ? options.bloom
          : new BloomFilter(rk, options.bloom.name ?? `${this.name}-bloom`, options.bloom)
    if (options.reloadOnExpire) {
      if (!this.#loader) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'reloadOnExpire needs a loader')
      if (!expirations) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'reloadOnExpire needs rk.expirations')
      this.#reloader = new ExpiryReloader(rk, expirations, this.#keys, (key) => this.#reloadExpired(key))
    }
    if (options.near) {
      this.#near = new NearCache(rk, this.#keys, options.near, {
        evicted: (keys, reason) => {
          if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { keys, reason })
        },
        error: (error) => this.#report(error),
      })
    }
    this.attach(rk)
    if (this.#writeMode === 'behind') {
      this.#writeBehind = new WriteBehind(this.#rk, this.#keys, this.#codec, this.#writer as CacheWriter<T>, options.writeBehind ?? {}, {
        error: (error) => this.#report(error),
        dead: (letter) =>
          this.#report(
            new RedkitError(ErrorCodes.E_REDIS, `write-behind of '${letter.key}' failed ${letter.attempts} times: ${letter.error}`, {
              details: letter,
            }),
          ),
      })
      if (options.writeBehind?.drain ?? true) this.#writeBehind.start()
    }
    if (this.#near) {
      const near = this.#near
      this.#subscribe().catch((error: unknown) => this.#report(error))
      near.start().catch((error: unknown) => this.#report(error))
      this.#connection.on('reconnecting', this.#onReconnecting)
      this.#connection.on('ready', this.#onReady)
    }
    if (this.#reloader) this.#reloader.start().catch((error: unknown) => this.#report(error))
  }

  /**
   * True while the near cache serves from memory: its invalidation sources (client tracking, or the
   * pub/sub subscriber) are connected. False without a near cache.
   */
  get nearReady(): boolean {
    return this.#near?.trusted ?? false
  }

  /** Near-cache entries currently held in memory. */
  get nearSize(): number {
    return this.#near?.size ?? 0
  }

  /** The value of `key`, or undefined on a miss (a stale entry within its window is served). */
  async get(key: string): Promise<T | undefined> {
    const value = await this.#lookup(key, this.#loader)
    return value === MISS ? undefined : value
  }

  /**
   * The cached value of `key`, or the loader's (stored for the next caller). One round trip on a
   * hit, none on a near hit. Concurrent misses share one loader call (per process, and across
   * processes with `stampede: 'distributed'`). `undefined` from the loader means "absent".
   */
  async getOrLoad(key: string, loader: Loader<T>, options?: GetOrLoadOptions<T>): Promise<T | undefined> {
    optionsObject(options)
    const near = this.#near
    let epoch = 0
    if (near !== undefined) {
      const hit = near.get(key, Date.now())
      if (hit !== undefined) {
        this.stats.hits++
        this.stats.nearHits++
        if (this.listenerCount('hit') > 0) this.emit('hit', { key, layer: 'near' })
        return hit.value === ABSENT ? undefined : (hit.value as T)
      }
      epoch = near.epoch
    }
    const entryKey = this.#keys.entry(key)
    this.assertOpen()
    if (!this.#connection.isReady) return this.#fallbackLoad(key, loader, unreachable())
    let text: string | null
    try {
      text = await this.#connection.sendUnmapped<string | null>(['GET', entryKey], entryKey)
    } catch (error) {
      return this.#fallbackLoad(key, loader, this.#connection.mapError(error, 'GET'))
    }
    if (text !== null) {
      const value = this.#read(key, text, loader, epoch)
      if (value !== MISS) return value
    }
    return this.#miss(key, entryKey, loader, options)
  }

  /** A function that caches `fn` by the key `keyOf` derives from its arguments. */
  wrap<A extends unknown[]>(
    fn: (...args: A) => Promise<T | undefined> | T | undefined,
    keyOf: (...args: A) => string,
    options?: GetOrLoadOptions<T>,
  ): (...args: A) => Promise<T | undefined> {
    if (typeof fn !== 'function' || typeof keyOf !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'wrap(fn, keyOf) needs two functions')
    return (...args: A) => this.getOrLoad(keyOf(...args), () => fn(...args), options)
  }

  /**
   * Stores a value (and, with `write`, sends it to the source of truth first: `through` writes it,
   * `around` writes it and drops the cached copy, `behind` queues it durably).
   * @throws RedkitError E_ENCODE (not serializable), E_TOO_LARGE, E_INVALID_KEY
   */
  async set(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
    this.assertOpen()
    optionsObject(options)
    const entryKey = this.#keys.entry(key)
    if (value === undefined)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'undefined means "absent" in a cache: use delete(key) to remove a value')
    const encoded = this.#encode(value)
    const indexKeys = options.tags ? this.#tags.indexKeys(options.tags) : undefined
    const ttlMs = options.ttlMs === undefined ? undefined : durationMs(options.ttlMs, 'ttlMs')
    const writer = this.#writer
    if (this.#writeMode === 'through' || this.#writeMode === 'around') await (writer as CacheWriter<T>).write(key, value, NO_INFO)
    if (this.#writeMode === 'around') {
      await this.#remove(key, entryKey)
      return
    }
    if (this.#writeMode === 'behind') await (this.#writeBehind as WriteBehind<T>).enqueue(key, 'set', encoded)
    this.#near?.invalidate(key, 'local')
    await Promise.all([
      this.#put(key, entryKey, encoded, ttlMs, indexKeys, '', true),
      this.bloom?.add(key).catch((error: unknown) => this.#report(error)),
    ])
  }

  /** Deletes a key (and, with `write`, from the source of truth through `writer.delete`). @returns true when it was cached */
  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    const entryKey = this.#keys.entry(key)
    if (this.#writer?.delete) {
      if (this.#writeMode === 'behind') await (this.#writeBehind as WriteBehind<T>).enqueue(key, 'delete', undefined)
      else if (this.#writeMode) await this.#writer.delete(key, NO_INFO)
    }
    return this.#remove(key, entryKey)
  }

  /** Deletes every entry written with one of the tags, on every node. @returns entries deleted */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.assertOpen()
    return this.#tags.invalidate(tags, async (entryKeys) => {
      const keys = entryKeys.map((k) => this.#keys.keyOf(k)).filter((k): k is string => k !== undefined)
      for (const key of keys) this.#near?.invalidate(key, 'local')
      if (keys.length > 0) {
        await this.#connection.send(['PUBLISH', this.#keys.channel, message('i', this.#instance, keys.join('\n'))])
        if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { keys, reason: 'tags' })
      }
    })
  }

  /** Reloads `key` now (with `loader`, else the cache's) and stores the result. */
  refresh(key: string, loader: Loader<T> | undefined = this.#loader, options?: GetOrLoadOptions<T>): Promise<T | undefined> {
    this.assertOpen()
    if (typeof loader !== 'function') return Promise.reject(new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'refresh needs a loader'))
    const entryKey = this.#keys.entry(key)
    const flight = this.#flights.get(key)
    if (flight) return flight
    return this.#fly(
      key,
      this.#load(key, entryKey, loader, options, { kind: 'refresh', reason: 'manual', createdAfter: Date.now(), background: false }),
    )
  }

  /** Write-behind: writes queued and not yet applied, across every instance. */
  pendingWrites(): Promise<number> {
    return this.#writeBehind?.pending() ?? Promise.resolve(0)
  }

  /** Drops the in-process copies (the near cache). */
  clearNear(): void {
    this.#near?.flush('local')
  }

  /** Stops background work; write-behind drains what this process can within its flush timeout. */
  override close(): Promise<void> {
    return super.close()
  }

  protected override async teardown(): Promise<void> {
    this.#connection.off('reconnecting', this.#onReconnecting)
    this.#connection.off('ready', this.#onReady)
    this.#waiters.resyncAll()
    await Promise.allSettled([
      this.#writeBehind?.close(),
      this.#near?.close(),
      this.#reloader?.close(),
      this.#unsubscribe?.(),
      ...this.#flights.values(),
    ])
  }

  // ---- read path ------------------------------------------------------------------------------

  async #lookup(key: string, loader: Loader<T> | undefined): Promise<T | undefined | typeof MISS> {
    const now = Date.now()
    const nearHit = this.#near?.get(key, now)
    if (nearHit !== undefined) {
      this.stats.hits++
      this.stats.nearHits++
      if (this.listenerCount('hit') > 0) this.emit('hit', { key, layer: 'near' })
      return nearHit.value === ABSENT ? undefined : (nearHit.value as T)
    }
    const epoch = this.#near?.epoch ?? 0
    const entryKey = this.#keys.entry(key)
    this.assertOpen()
    if (!this.#connection.isReady) throw unreachable()
    const text = await this.#connection.send<string | null>(['GET', entryKey], { key: entryKey })
    const value = text === null ? MISS : this.#read(key, text, loader, epoch)
    if (value === MISS) {
      this.stats.misses++
      if (this.listenerCount('miss') > 0) this.emit('miss', { key })
    }
    return value
  }

  /** Decodes a stored entry; serves it, stale within its window, or reports a miss. */
  #read(key: string, text: string, loader: Loader<T> | undefined, epoch: number): T | undefined | typeof MISS {
    const entry = HEADER
    if (!parseHeader(text, entry)) {
      this.#report(
        new RedkitError(ErrorCodes.E_DECODE, `cache ${this.name}: '${key}' holds a value redkit did not write; treated as a miss`),
      )
      return MISS
    }
    const { kind, createdAt, freshUntil } = entry
    const now = Date.now()
    const stale = now >= freshUntil
    if (stale && this.#swrMs === 0) return MISS
    let value: T | undefined
    if (kind === KIND_JSON) {
      try {
        value = JSON.parse(text.slice(entry.body)) as T
      } catch (error) {
        return this.#undecodable(key, error)
      }
    } else if (kind !== KIND_ABSENT) {
      try {
        value = this.#codec.decode(text.slice(entry.body)) as T
      } catch (error) {
        return this.#undecodable(key, error)
      }
    }
    this.stats.hits++
    if (stale) {
      this.stats.stale++
      if (this.listenerCount('stale') > 0) this.emit('stale', { key })
      if (loader) this.#refreshInBackground(key, loader, createdAt, 'stale')
      return value
    }
    if (this.listenerCount('hit') > 0) this.emit('hit', { key, layer: 'redis' })
    let servedUntil = freshUntil
    if (this.#refreshAhead !== undefined) {
      const refreshAt = createdAt + this.#refreshAhead * (freshUntil - createdAt)
      if (now >= refreshAt) {
        if (loader) this.#refreshInBackground(key, loader, createdAt, 'ahead')
      } else servedUntil = refreshAt
    }
    if (this.#near !== undefined) this.#near.store(key, kind === KIND_ABSENT ? ABSENT : value, servedUntil, now, epoch)
    return value
  }

  #undecodable(key: string, error: unknown): typeof MISS {
    const reason = error instanceof Error ? error.message : String(error)
    this.#report(
      new RedkitError(ErrorCodes.E_DECODE, `cache ${this.name}: '${key}' cannot be decoded (${reason}); treated as a miss`, {
        cause: error,
      }),
    )
    return MISS
  }

  #miss(key: string, entryKey: string, loader: Loader<T>, options: GetOrLoadOptions<T> | undefined): Promise<T | undefined> {
    this.stats.misses++
    if (this.listenerCount('miss') > 0) this.emit('miss', { key })
    const flight = this.#flights.get(key)
    if (flight) return flight
    return this.#fly(key, this.#load(key, entryKey, loader, options, { kind: 'miss' }))
  }

  /** Registers an in-process flight (single-flight) and forgets it once settled. */
  #fly(key: string, promise: Promise<T | undefined>): Promise<T | undefined> {
    this.#flights.set(key, promise)
    const clear = () => {
      if (this.#flights.get(key) === promise) this.#flights.delete(key)
    }
    promise.then(clear, clear)
    return promise
  }

  #refreshInBackground(key: string, loader: Loader<T>, createdAt: number, reason: 'stale' | 'ahead'): void {
    if (this.#refreshing.has(key) || this.#flights.has(key) || this.closed) return
    this.#refreshing.add(key)
    let entryKey: string
    try {
      entryKey = this.#keys.entry(key)
    } catch {
      this.#refreshing.delete(key)
      return
    }
    this.#load(key, entryKey, loader, undefined, { kind: 'refresh', reason, createdAfter: createdAt, background: true })
      .catch((error: unknown) => this.#report(error))
      .finally(() => this.#refreshing.delete(key))
  }

  async #reloadExpired(key: string): Promise<void> {
    if (this.closed || this.#flights.has(key)) return
    const entryKey = this.#keys.entry(key)
    await this.#fly(
      key,
      this.#load(key, entryKey, this.#loader as Loader<T>, undefined, {
        kind: 'refresh',
        reason: 'expired',
        createdAfter: Date.now(),
        background: false,
      }),
    )
  }

  // ---- load path ------------------------------------------------------------------------------

  async #load(
    key: string,
    entryKey: string,
    loader: Loader<T>,
    options: GetOrLoadOptions<T> | undefined,
    mode: LoadMode,
  ): Promise<T | undefined> {
    if (typeof loader !== 'function') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'loader must be a function')
    const store: StoreOptions<T> = { ttlMs: options?.ttlMs, tags: options?.tags }
    try {
      if (mode.kind === 'miss' && this.bloom && !(await this.bloom.mightContain(key))) return undefined
      const value = this.#distributed
        ? await this.#loadDistributed(key, entryKey, loader, store, mode)
        : await this.#loadLocal(key, entryKey, loader, store, mode)
      if (mode.kind === 'refresh') this.#refreshed(key, mode.reason)
      return value
    } catch (error) {
      if (mode.kind === 'refresh') this.#refreshed(key, mode.reason, error as Error)
      // Inside this key's flight already: run the fallback directly.
      if (isRedkitError(error, ErrorCodes.E_CONNECTION) && mode.kind === 'miss') return this.#fallbackRun(key, loader, error)
      throw error
    }
  }

  #refreshed(key: string, reason: RefreshEvent['reason'], error?: Error): void {
    if (!error) this.stats.refreshes++
    if (this.listenerCount('refresh') > 0) this.emit('refresh', error ? { key, reason, error } : { key, reason })
  }

  async #loadLocal(key: string, entryKey: string, loader: Loader<T>, store: StoreOptions<T>, mode: LoadMode): Promise<T | undefined> {
    const value = await this.#callLoader(key, loader)
    await this.#storeLoaded(key, entryKey, value, store, '', mode.kind === 'refresh')
    return value
  }

  /**
   * Cross-process single flight: the first process takes the entry's lock (one script that also
   * returns the entry if it landed meanwhile) and loads; the others wait for its fill message on the
   * cache's channel, bounded by the lock's TTL, then read the value. A loader that dies leaves a lock
   * that expires: a waiter then takes over.
   */
  async #loadDistributed(key: string, entryKey: string, loader: Loader<T>, store: StoreOptions<T>, mode: LoadMode): Promise<T | undefined> {
    await this.#subscribe()
    const lockKey = this.#keys.lock(entryKey)
    const lockTtlMs = this.#loadTimeoutMs + 2000
    const deadline = Date.now() + this.#loadTimeoutMs + lockTtlMs
    let createdAfter = mode.kind === 'miss' ? FAR_FUTURE : mode.createdAfter
    let freshAt = mode.kind === 'miss' ? Date.now() : FAR_FUTURE
    for (;;) {
      const token = randomBytes(12).toString('base64url')
      this.#waiters.expect(key)
      let reply: Awaited<ReturnType<typeof scripts.lock.run>>
      try {
        reply = await scripts.lock.run(this.#connection, [entryKey, lockKey], [token, lockTtlMs, createdAfter, freshAt])
      } catch (error) {
        this.#waiters.cancel(key)
        throw error
      }
      if (reply[0] === 1) {
        this.#waiters.cancel(key)
        const value = this.#read(key, reply[1], undefined, this.#near?.epoch ?? 0)
        if (value !== MISS) return value
        createdAfter = FAR_FUTURE // undecodable: load over it
        freshAt = FAR_FUTURE
        continue
      }
      if (reply[0] === 2) {
        this.#waiters.cancel(key)
        return this.#lead(key, entryKey, lockKey, token, loader, store, mode.kind === 'refresh')
      }
      if (mode.kind === 'refresh' && mode.background) {
        this.#waiters.cancel(key)
        return undefined // another process is refreshing it
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) {
        this.#waiters.cancel(key)
        throw new RedkitError(
          ErrorCodes.E_TIMEOUT,
          `cache ${this.name}: no value for '${key}' within ${this.#loadTimeoutMs + lockTtlMs} ms`,
        )
      }
      const outcome = await this.#waiters.wait(key, Math.min(reply[1] + 50, remaining))
      if (outcome.type === 'failed')
        throw new RedkitError(ErrorCodes.E_LOAD_FAILED, outcome.message, { details: { cache: this.name, key } })
      if (outcome.type === 'absent') return undefined
      if (outcome.type === 'uncacheable') return this.#callLoader(key, loader)
      if (mode.kind === 'miss') freshAt = Date.now() - 1
    }
  }

  async #lead(
    key: string,
    entryKey: string,
    lockKey: string,
    token: string,
    loader: Loader<T>,
    store: StoreOptions<T>,
    invalidate: boolean,
  ): Promise<T | undefined> {
    let value: T | undefined
    try {
      value = await this.#callLoader(key, loader)
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error)
      scripts.unlock
        .run(this.#connection, [lockKey], [token, this.#keys.channel, message('e', this.#instance, `${key}\n${text}`)])
        .catch((unlockError: unknown) => this.#report(unlockError))
      throw error
    }
    await this.#storeLoaded(key, entryKey, value, store, token, invalidate)
    return value
  }

  async #callLoader(key: string, loader: Loader<T>): Promise<T | undefined> {
    const started = performance.now()
    try {
      const value = await withTimeout(
        () => loader(key),
        this.#loadTimeoutMs,
        () => {
          throw errors.timeout(`cache ${this.name}: loader for '${key}'`, this.#loadTimeoutMs)
        },
      )
      this.stats.loads++
      if (this.listenerCount('load') > 0) this.emit('load', { key, durationMs: performance.now() - started })
      return value
    } catch (error) {
      this.stats.loadErrors++
      if (this.listenerCount('load') > 0) this.emit('load', { key, durationMs: performance.now() - started, error: error as Error })
      throw error
    }
  }

  /** Redis failed: the loader runs directly (bounded), joined by concurrent callers of the same key. */
  #fallbackLoad(key: string, loader: Loader<T>, cause: unknown): Promise<T | undefined> {
    const flight = this.#flights.get(key)
    if (flight) return flight
    return this.#fly(key, this.#fallbackRun(key, loader, cause))
  }

  async #fallbackRun(key: string, loader: Loader<T>, cause: unknown): Promise<T | undefined> {
    const error = toRedkitError(cause, this.#connection.scrubber, `cache ${this.name}`)
    if (error.code !== ErrorCodes.E_CONNECTION || !this.#fallback || this.closed) throw error
    this.stats.fallbacks++
    if (this.listenerCount('fallback') > 0) this.emit('fallback', { key, error })
    const result = await this.#fallback.run(() => this.#callLoader(key, loader))
    if (!result) throw error
    return result.value
  }

  // ---- write path -----------------------------------------------------------------------------

  #encode(value: unknown): EncodedValue {
    const encoded = encodeValue(this.#codec, value)
    if (exceedsBytes(encoded.payload, this.#maxValueBytes))
      throw new RedkitError(ErrorCodes.E_TOO_LARGE, `cache ${this.name}: value is larger than maxValueBytes (${this.#maxValueBytes})`)
    return encoded
  }

  /** Stores a loaded value (or "absent"); a value that cannot be cached is reported, not thrown. */
  async #storeLoaded(
    key: string,
    entryKey: string,
    value: T | undefined,
    store: StoreOptions<T>,
    token: string,
    invalidate: boolean,
  ): Promise<void> {
    try {
      if (value === undefined) {
        if (this.#negativeTtlMs === undefined) {
          if (token) await this.#release(entryKey, token, message('a', this.#instance, key))
          return
        }
        await this.#put(key, entryKey, undefined, this.#negativeTtlMs, undefined, token, invalidate)
        return
      }
      let encoded: EncodedValue
      try {
        encoded = this.#encode(value)
      } catch (error) {
        this.#report(error)
        if (token) await this.#release(entryKey, token, message('u', this.#instance, key))
        return
      }
      const tags = typeof store.tags === 'function' ? store.tags(value) : store.tags
      await Promise.all([
        this.#put(key, entryKey, encoded, store.ttlMs, tags ? this.#tags.indexKeys(tags) : undefined, token, invalidate),
        this.bloom?.add(key).catch((error: unknown) => this.#report(error)),
      ])
    } catch (error) {
      // The caller still gets the value; the next read loads again.
      this.#report(error)
      if (token) this.#release(entryKey, token, message('u', this.#instance, key)).catch(() => {})
    }
  }

  #release(entryKey: string, token: string, note: string): Promise<unknown> {
    return scripts.set.run(this.#connection, [entryKey, this.#keys.lock(entryKey)], ['', 1, token, this.#keys.channel, note, ''])
  }

  /** Writes an entry (undefined value: a negative entry) with its tags, releasing `token`'s lock. */
  async #put(
    key: string,
    entryKey: string,
    encoded: EncodedValue | undefined,
    ttlMs: number | undefined,
    indexKeys: string[] | undefined,
    token: string,
    invalidate: boolean,
  ): Promise<void> {
    const now = Date.now()
    const fresh = encoded ? jitterTtl(ttlMs ?? this.#ttlMs, this.#jitter) : (ttlMs ?? this.#ttlMs)
    const hardTtl = encoded ? fresh + this.#swrMs : fresh
    const text = encoded ? entryText(encoded.kind, now, now + fresh, encoded.payload) : entryText('n', now, now + fresh, '')
    if (indexKeys && indexKeys.length > 0) await this.#tags.add(indexKeys, entryKey, hardTtl)
    await scripts.set.run(
      this.#connection,
      [entryKey, this.#keys.lock(entryKey)],
      [
        text,
        hardTtl,
        token,
        this.#keys.channel,
        token ? message('f', this.#instance, key) : '',
        invalidate ? message('i', this.#instance, key) : '',
      ],
    )
    // Again after the write: a read that started before it may have stored the old value meanwhile.
    if (invalidate) this.#near?.invalidate(key, 'local')
    if (this.#reloader) await this.#reloader.track(entryKey)
  }

  async #remove(key: string, entryKey: string): Promise<boolean> {
    this.#near?.invalidate(key, 'local')
    const deleted = await scripts.delete.run(this.#connection, [entryKey], [this.#keys.channel, message('i', this.#instance, key)])
    this.#near?.invalidate(key, 'local')
    if (this.listenerCount('invalidate') > 0) this.emit('invalidate', { keys: [key], reason: 'delete' })
    return deleted === 1
  }

  // ---- coordination ---------------------------------------------------------------------------

  #subscribe(): Promise<unknown> {
    this.#subscribed ??= this.#rk.connection.pubsub
      .subscribe('channel', this.#keys.channel, {
        message: (text) => this.#onMessage(text),
        resync: (healthy) => {
          this.#near?.hubChanged(healthy)
          this.#waiters.resyncAll()
        },
      })
      .then(
        (unsubscribe) => {
          this.#unsubscribe = unsubscribe
          this.#near?.hubChanged(true)
        },
        (error: unknown) => {
          this.#subscribed = undefined
          throw error
        },
      )
    return this.#subscribed
  }

  #onMessage(text: string): void {
    const parsed = parseMessage(text)
    if (!parsed) return
    const { type, body } = parsed
    if (type === 'i') {
      if (parsed.instance === this.#instance || !this.#near) return
      const keys = body.split('\n')
      for (const key of keys) this.#near.invalidate(key, 'message')
      return
    }
    const newline = body.indexOf('\n')
    const key = newline < 0 ? body : body.slice(0, newline)
    if (type === 'f') this.#waiters.settle(key, { type: 'filled' })
    else if (type === 'a') this.#waiters.settle(key, { type: 'absent' })
    else if (type === 'u') this.#waiters.settle(key, { type: 'uncacheable' })
    else if (type === 'e') this.#waiters.settle(key, { type: 'failed', message: body.slice(newline + 1) })
  }

  readonly #onReconnecting = () => {
    this.#near?.flush('reconnect')
  }

  readonly #onReady = () => {
    this.#near?.flush('reconnect')
    this.#near?.syncMasters().catch((error: unknown) => this.#report(error))
  }

  /** report(), counted in `stats.errors` too. */
  #report(error: unknown): void {
    if (this.report(error)) this.stats.errors++
  }
}

const NO_INFO = Object.freeze({ id: undefined, attempt: 1 })

function unreachable(): RedkitError {
  return new RedkitError(ErrorCodes.E_CONNECTION, 'Redis is unreachable (the connection is down)')
}

function normalizeWriter<T>(writer: CacheOptions<T>['writer']): CacheWriter<T> | undefined {
  if (writer === undefined) return undefined
  if (typeof writer === 'function') return { write: writer }
  if (writer === null || typeof writer !== 'object' || typeof writer.write !== 'function')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'writer must be a function or { write, delete? }')
  return writer
}
