import { randomBytes } from 'node:crypto'
import { EmitterComponent } from '../core/component.js'
import type { Connection } from '../core/connection.js'
import type { RedkitContext } from '../core/context.js'
import { describeValue, ErrorCodes, RedkitError, thrownText } from '../core/errors.js'
import { byteSize, durationMs, optionsObject, timerMs } from '../core/validate.js'
import type { Expirations } from '../events/index.js'
import { BloomFilter } from '../stats/index.js'
import { CacheKeys } from './cache-keys.js'
import { emptyHeader, KIND_ABSENT, KIND_JSON, parseHeader } from './entry.js'
import { EntryStore } from './entry-store.js'
import { validateFraction } from './jitter.js'
import { Limiter } from './limiter.js'
import { Loads } from './loads.js'
import { NearCache } from './near.js'
import type { CacheParts, CacheSettings } from './parts.js'
import { CacheProtocol } from './protocol.js'
import { ExpiryReloader } from './reload.js'
import { MISS, Stampede } from './stampede.js'
import { TagIndex } from './tags.js'
import type { CacheEvents, CacheOptions, CacheSetOptions, CacheStats, CacheWriter, GetOrLoadOptions, Loader } from './types.js'
import { Waiters } from './waiters.js'
import { type DeadLetter, WriteBehind } from './write-behind.js'
import { WritePolicy } from './write-policy.js'

/** Stored in the near cache for a cached "absent". */
const ABSENT: unique symbol = Symbol('absent')
/** Scratch header of the read path (synchronous use only, so one per process is enough). */
const HEADER = emptyHeader()

/**
 * A Redis cache with an optional in-process tier: cache-aside reads in one round trip, single-flight
 * and cross-process stampede protection, load leases (a delete, set or invalidation voids the loads
 * in flight), negative caching, TTL jitter, stale-while-revalidate, refresh-ahead, tags,
 * write-through/around/behind, and reloads on expiry. See docs/cache.md.
 *
 * This file is the facade: the read path and the public API. The parts: loads.ts (load
 * coordinator), stampede.ts (leases and cross-process single flight), entry-store.ts and
 * write-policy.ts (writes), protocol.ts and wire.ts (the messages between processes).
 */
export class Cache<T = unknown> extends EmitterComponent<CacheEvents> {
  /** Counters since creation. */
  readonly stats: CacheStats = {
    hits: 0,
    nearHits: 0,
    misses: 0,
    coalesced: 0,
    loads: 0,
    loadErrors: 0,
    stale: 0,
    refreshes: 0,
    fallbacks: 0,
    errors: 0,
  }
  /** The penetration guard, when configured. */
  readonly bloom: BloomFilter | undefined
  readonly #connection: Connection
  readonly #codec: RedkitContext['codec']
  readonly #keys: CacheKeys
  readonly #settings: CacheSettings
  readonly #loader: Loader<T> | undefined
  readonly #near: NearCache | undefined
  readonly #writeBehind: WriteBehind<T> | undefined
  readonly #reloader: ExpiryReloader | undefined
  readonly #tags: TagIndex
  readonly #parts: CacheParts
  readonly #store: EntryStore<T>
  readonly #loads: Loads<T>
  readonly #writes: WritePolicy<T>
  readonly #protocol: CacheProtocol

  constructor(rk: RedkitContext, name: string, options: CacheOptions<T> = {}, expirations?: () => Expirations) {
    optionsObject(options, 'cache options')
    const keys = new CacheKeys(rk.keys, name)
    // Registered with rk.close() at the end of construction (attach below), once nothing can throw.
    super({ name: keys.name, kind: 'cache', scrubber: rk.connection.scrubber })
    this.#connection = rk.connection
    this.#codec = rk.codec
    this.#keys = keys
    this.#settings = settingsOf(options)
    if (options.loader !== undefined && typeof options.loader !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'loader must be a function')
    this.#loader = options.loader
    const writer = normalizeWriter(options.writer)
    const writeMode = options.write
    if (writeMode !== undefined) {
      if (!['around', 'through', 'behind'].includes(writeMode))
        throw new RedkitError(
          ErrorCodes.E_INVALID_ARGUMENT,
          `write must be 'around', 'through' or 'behind', got ${describeValue(writeMode)}`,
        )
      if (!writer) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `write: '${writeMode}' needs a writer`)
    }
    const fallback =
      options.fallback === false ? undefined : new Limiter(options.fallback?.concurrency ?? 8, options.fallback?.maxWaiting ?? 1000)
    this.#tags = new TagIndex(this.#connection, this.#keys, this.#settings.leaseVersionTtlMs)
    this.bloom =
      options.bloom === undefined
        ? undefined
        : options.bloom instanceof BloomFilter
          ? options.bloom
          : new BloomFilter(rk, optionsObject(options.bloom, 'bloom').name ?? `${this.name}-bloom`, options.bloom)
    if (options.reloadOnExpire) {
      const loader = this.#loader
      if (!loader) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'reloadOnExpire needs a loader')
      if (!expirations) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'reloadOnExpire needs rk.expirations')
      this.#reloader = new ExpiryReloader(rk, expirations, this.#keys, (key, meta) =>
        this.#loads.reloadExpired(key, loader, { ttlMs: meta?.ttlMs, tags: meta?.tags }),
      )
    }
    if (options.near) {
      this.#near = new NearCache(rk, this.#keys, options.near, {
        evicted: (keys, reason) => this.#notify('invalidate', { keys, reason }),
        error: (error) => this.#report(error),
      })
    }
    this.#parts = {
      name: this.name,
      connection: this.#connection,
      codec: rk.codec,
      keys: this.#keys,
      instance: randomBytes(6).toString('hex'),
      near: this.#near,
      bloom: this.bloom,
      stats: this.stats,
      settings: this.#settings,
      closed: () => this.closed,
      notify: (event, ...args) => this.#notify(event, ...args),
      report: (error) => this.#report(error),
    }
    const waiters = new Waiters()
    this.#protocol = new CacheProtocol(rk, this.#parts, waiters)
    this.#store = new EntryStore<T>(this.#parts, this.#tags, this.#reloader)
    const stampede = new Stampede<T>(
      this.#parts,
      waiters,
      // Not a lookup: the caller's miss is counted already, and what it gets now is coalesced.
      (key, text, epoch) => this.#read(key, text, undefined, epoch, false),
      () => this.#protocol.subscribe(),
    )
    this.#loads = new Loads<T>(this.#parts, this.#store, stampede, fallback, (key) =>
      this.#writeBehind ? this.#writeBehind.queued(key) : Promise.resolve(undefined),
    )
    this.attach(rk)
    if (writeMode === 'behind') {
      this.#writeBehind = new WriteBehind(rk, this.#keys, rk.codec, writer as CacheWriter<T>, options.writeBehind ?? {}, {
        error: (error) => this.#report(error),
        dead: (letter) => {
          this.#report(
            new RedkitError(ErrorCodes.E_REDIS, `write-behind of '${letter.key}' failed ${letter.attempts} times: ${letter.error}`, {
              details: { ...letter },
            }),
          )
          // The cached copy holds a write the source never got: drop it, so reads agree with the source.
          if (letter.newest) this.#store.remove(letter.key, this.#keys.entry(letter.key)).catch((error: unknown) => this.#report(error))
        },
        applied: (key) => this.#store.voidLoads(key, this.#keys.entry(key)).then(noop),
      })
      if (options.writeBehind?.drain ?? true) this.#writeBehind.start()
    }
    this.#writes = new WritePolicy<T>(this.#parts, this.#store, this.#tags, writeMode, writer, this.#writeBehind)
    if (this.#near) {
      const near = this.#near
      this.#protocol.subscribe().catch((error: unknown) => this.#report(error))
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

  /**
   * The value of `key`, or undefined on a miss (a stale entry within its window is served). With
   * write-behind, a miss answers the key's newest queued write (undefined for a queued delete).
   */
  async get(key: string): Promise<T | undefined> {
    const value = await this.#lookup(key, this.#loader)
    if (value !== MISS) return value
    // Read-your-writes, as a getOrLoad miss: a write still queued for the source is newer than what
    // the caller would read there next. One HGET, on a miss of a write-behind cache only.
    return this.#writeBehind ? (await this.#writeBehind.queued(key))?.value : undefined
  }

  /**
   * The cached value of `key`, or the loader's (stored for the next caller unless a delete, set or
   * invalidation of the key came while it loaded). One round trip on a hit, none on a near hit.
   * Concurrent misses share one loader call (per process, and across processes with
   * `stampede: 'distributed'`). `undefined` from the loader means "absent".
   */
  async getOrLoad(key: string, loader: Loader<T>, options?: GetOrLoadOptions<T>): Promise<T | undefined> {
    if (options !== undefined) this.#checkLoadOptions(options)
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
    if (!this.#connection.isReady) return this.#loads.fallbackLoad(key, loader, unreachable())
    let text: string | null
    try {
      text = await this.#connection.sendUnmapped<string | null>(['GET', entryKey], entryKey)
    } catch (error) {
      return this.#loads.fallbackLoad(key, loader, this.#connection.mapError(error, 'GET'))
    }
    if (text !== null) {
      const value = this.#read(key, text, loader, epoch)
      if (value !== MISS) return value
    }
    return this.#loads.miss(key, entryKey, loader, options)
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
   * `around` writes it and drops the cached copy, `behind` queues it durably). Voids every load of
   * the key in flight, so none writes an older value over it.
   * @throws RedkitError E_ENCODE (not serializable), E_TOO_LARGE, E_INVALID_KEY
   */
  async set(key: string, value: T, options: CacheSetOptions = {}): Promise<void> {
    this.assertOpen()
    optionsObject(options)
    await this.#writes.set(key, value, options)
  }

  /**
   * Deletes a key (and, with `write`, from the source of truth through `writer.delete`); voids every
   * load of the key in flight. @returns true when it was cached
   */
  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    return this.#writes.delete(key)
  }

  /** Deletes every entry written with one of the tags, on every node, voiding their loads in flight. @returns entries deleted */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    this.assertOpen()
    return this.#tags.invalidate(
      tags,
      (entryKey) => {
        const key = this.#keys.keyOf(entryKey)
        return key === undefined ? Promise.resolve(false) : this.#store.remove(key, entryKey, false)
      },
      async (entryKeys) => {
        const keys = entryKeys.map((k) => this.#keys.keyOf(k)).filter((k): k is string => k !== undefined)
        if (keys.length === 0) return
        await this.#protocol.invalidate(keys)
        this.#notify('invalidate', { keys, reason: 'tags' })
      },
    )
  }

  /** Reloads `key` now (with `loader`, else the cache's) and stores the result, with `options` or the entry's own. */
  refresh(key: string, loader: Loader<T> | undefined = this.#loader, options?: GetOrLoadOptions<T>): Promise<T | undefined> {
    this.assertOpen()
    if (typeof loader !== 'function') return Promise.reject(new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'refresh needs a loader'))
    try {
      if (options !== undefined) this.#checkLoadOptions(options)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#loads.refresh(key, this.#keys.entry(key), loader, options)
  }

  /**
   * The per-call options of a load, checked before anything loads (as `set` checks its own): a bad
   * `ttlMs` would otherwise fail every store in Redis, or write a header no read accepts, and the
   * loader would run on every call.
   */
  #checkLoadOptions(options: GetOrLoadOptions<T>): void {
    optionsObject(options)
    if (options.ttlMs !== undefined) durationMs(options.ttlMs, 'ttlMs')
    const { tags } = options
    if (tags === undefined || typeof tags === 'function') return
    if (!Array.isArray(tags))
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'tags must be an array of names or a function of the value')
    this.#tags.indexKeys(tags)
  }

  /** Write-behind: writes queued and not yet applied, across every instance. */
  pendingWrites(): Promise<number> {
    return this.#writeBehind?.pending() ?? Promise.resolve(0)
  }

  /** Write-behind: the writes that failed their last attempt, oldest first (at most `limit`, default 100). */
  deadLetters(limit?: number): Promise<DeadLetter[]> {
    return this.#writeBehind?.deadLetters(limit) ?? Promise.resolve([])
  }

  /**
   * Write-behind: queues the dead letters again (oldest first, at most `limit`, default 1000); one
   * whose key has a newer write queued is dropped. @returns writes queued again
   */
  replayDeadLetters(limit?: number): Promise<number> {
    this.assertOpen()
    return this.#writeBehind?.replayDeadLetters(limit) ?? Promise.resolve(0)
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
    this.#loads.abortAll()
    await Promise.allSettled([
      this.#writeBehind?.close(),
      this.#near?.close(),
      this.#reloader?.close(),
      this.#protocol.close(),
      ...this.#loads.flights(),
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

  /**
   * Decodes a stored entry; serves it, stale within its window, or reports a miss. `lookup` is
   * false for the stampede's re-read after a miss, which is no second lookup (no hit is counted).
   */
  #read(key: string, text: string, loader: Loader<T> | undefined, epoch: number, lookup = true): T | undefined | typeof MISS {
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
    if (stale && this.#settings.swrMs === 0) return MISS
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
    if (lookup) this.stats.hits++
    if (stale) {
      if (lookup) this.stats.stale++
      if (lookup && this.listenerCount('stale') > 0) this.emit('stale', { key })
      if (loader) this.#loads.refreshInBackground(key, loader, text, createdAt, 'stale')
      return value
    }
    if (lookup && this.listenerCount('hit') > 0) this.emit('hit', { key, layer: 'redis' })
    let servedUntil = freshUntil
    const refreshAhead = this.#settings.refreshAhead
    if (refreshAhead !== undefined) {
      const refreshAt = createdAt + refreshAhead * (freshUntil - createdAt)
      if (now >= refreshAt) {
        if (loader) this.#loads.refreshInBackground(key, loader, text, createdAt, 'ahead')
      } else servedUntil = refreshAt
    }
    if (this.#near !== undefined) this.#near.store(key, kind === KIND_ABSENT ? ABSENT : value, servedUntil, now, epoch)
    return value
  }

  #undecodable(key: string, error: unknown): typeof MISS {
    const reason = thrownText(error)
    this.#report(
      new RedkitError(ErrorCodes.E_DECODE, `cache ${this.name}: '${key}' cannot be decoded (${reason}); treated as a miss`, {
        cause: error,
      }),
    )
    return MISS
  }

  readonly #onReconnecting = () => {
    this.#near?.flush('reconnect')
  }

  readonly #onReady = () => {
    this.#near?.flush('reconnect')
    this.#near?.syncMasters().catch((error: unknown) => this.#report(error))
  }

  #notify<K extends keyof CacheEvents>(event: K, ...args: CacheEvents[K]): void {
    if (this.listenerCount(event) > 0) (this.emit as (event: K, ...args: CacheEvents[K]) => boolean)(event, ...args)
  }

  /** report(), counted in `stats.errors` too. */
  #report(error: unknown): void {
    if (this.report(error)) this.stats.errors++
  }
}

function settingsOf<T>(options: CacheOptions<T>): CacheSettings {
  const stampede = options.stampede ?? 'distributed'
  if (stampede !== 'local' && stampede !== 'distributed')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `stampede must be 'local' or 'distributed', got ${describeValue(stampede)}`)
  const loadTimeoutMs = timerMs(options.loadTimeoutMs ?? 10_000, 'loadTimeoutMs')
  const lockTtlMs = loadTimeoutMs + 2000
  return {
    ttlMs: durationMs(options.ttlMs ?? 60_000, 'ttlMs'),
    jitter: validateFraction(options.jitter ?? 0.1, 'jitter'),
    negativeTtlMs: options.negativeTtlMs === undefined ? undefined : durationMs(options.negativeTtlMs, 'negativeTtlMs'),
    swrMs: durationMs(options.staleWhileRevalidateMs ?? 0, 'staleWhileRevalidateMs', { allowZero: true }),
    refreshAhead:
      options.refreshAhead === undefined
        ? undefined
        : validateFraction(options.refreshAhead, 'refreshAhead', { allowZero: false, allowOne: false }),
    loadTimeoutMs,
    maxValueBytes: byteSize(options.maxValueBytes ?? 1_048_576, 'maxValueBytes'),
    distributed: stampede === 'distributed',
    lockTtlMs,
    // The margin covers drift between this process's clock and Redis's.
    leaseVersionTtlMs: lockTtlMs + 10_000,
  }
}

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

function noop(): void {}
