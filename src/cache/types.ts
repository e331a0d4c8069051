import type { BackoffOptions } from '../core/backoff.js'
import type { RedkitError } from '../core/errors.js'
import type { BloomFilter, BloomOptions } from '../stats/index.js'
import type { NearFlushReason, NearOptions } from './near.js'

/** What a loader is told besides the key. */
export interface LoadInfo {
  /** Aborted when the load times out (`loadTimeoutMs`) or the cache closes: stop the work then. */
  signal: AbortSignal
}

/** Loads the value of a key from the source of truth; `undefined` means "absent". */
export type Loader<T> = (key: string, info: LoadInfo) => Promise<T | undefined> | T | undefined

/** Where `set` and `delete` send writes in the `through`, `around` and `behind` modes. */
export interface CacheWriter<T> {
  /** Writes `value` of `key` to the source of truth. Write-behind: may run more than once (make it idempotent). */
  write(key: string, value: T, info: WriteInfo): Promise<unknown> | unknown
  /** Deletes `key` from the source of truth. Without it, `delete` only touches the cache. */
  delete?(key: string, info: WriteInfo): Promise<unknown> | unknown
}

export interface WriteInfo {
  /** Write-behind: the stream id of the write (increases with every write of the cache), else undefined. */
  id: string | undefined
  /** Write-behind: 1 on the first attempt. */
  attempt: number
}

export interface FallbackOptions {
  /** Loader calls at once while Redis is unreachable. @defaultValue 8 */
  concurrency?: number
  /** Callers queued behind them; the rest get the connection error. @defaultValue 1000 */
  maxWaiting?: number
}

export interface WriteBehindOptions {
  /** Drain the stream in this process (needs a writer). @defaultValue true */
  drain?: boolean
  /** Writer calls per write before it goes to the dead letters. @defaultValue 5 */
  attempts?: number
  /** Delay between attempts. @defaultValue exponential from 200 ms, at most 5 s */
  backoff?: BackoffOptions
  /** A write held this long by a consumer that stopped answering is taken over by another. @defaultValue 30_000 */
  claimIdleMs?: number
  /** Writes read per batch. @defaultValue 100 */
  batch?: number
  /** How long `close()` keeps draining. @defaultValue 10_000 */
  flushTimeoutMs?: number
}

export interface CacheOptions<T> {
  /** Freshness of an entry. @defaultValue 60_000 */
  ttlMs?: number
  /**
   * Avalanche protection: each TTL is shortened by a random fraction of up to this much, so keys
   * written together do not expire together. 0 turns it off.
   * @defaultValue 0.1
   */
  jitter?: number
  /** Cache "absent" (a loader that returned undefined) for this long. @defaultValue not cached */
  negativeTtlMs?: number
  /**
   * Penetration guard: a Bloom filter (`rk.bloom`) of every key that can exist; keys it has never
   * seen are answered "absent" without calling the loader. Writes add their key to it.
   */
  bloom?: BloomFilter | (BloomOptions & { name?: string })
  /**
   * `'distributed'`: one loader call per key across every process (a Redis lock; waiters are woken
   * by a message when the value lands). `'local'`: one per key per process.
   * @defaultValue 'distributed'
   */
  stampede?: 'local' | 'distributed'
  /**
   * Bound on a loader call; the callers get E_TIMEOUT after it and the loader's signal aborts. A
   * call that timed out still counts as in flight until it settles: no second call of that key
   * starts meanwhile (in this process; across processes, its load lock is kept).
   * @defaultValue 10_000
   */
  loadTimeoutMs?: number
  /** After an entry's TTL, keep serving it for this long while one refresh runs in the background. @defaultValue 0 */
  staleWhileRevalidateMs?: number
  /**
   * Refresh in the background when an entry is read after this fraction of its TTL (0 < f < 1).
   * @defaultValue off
   */
  refreshAhead?: number
  /** In-process tier kept coherent by client tracking and invalidation messages. @defaultValue off */
  near?: NearOptions
  /** What `set`/`delete` do with the source of truth (needs `writer`). @defaultValue cache only */
  write?: 'around' | 'through' | 'behind'
  writer?: CacheWriter<T> | ((key: string, value: T, info: WriteInfo) => Promise<unknown> | unknown)
  writeBehind?: WriteBehindOptions
  /** Default loader: used by `get` refreshes, `refresh(key)` and `reloadOnExpire`. */
  loader?: Loader<T>
  /** Reload an entry with `loader` when it expires (reliable expiry events; at least once per expiry). @defaultValue false */
  reloadOnExpire?: boolean
  /** Largest encoded value accepted, in bytes. @defaultValue 1_048_576 */
  maxValueBytes?: number
  /**
   * When Redis is unreachable, `getOrLoad` calls the loader directly (bounded) and emits `fallback`;
   * `false` makes it throw E_CONNECTION instead.
   * @defaultValue { concurrency: 8, maxWaiting: 1000 }
   */
  fallback?: FallbackOptions | false
}

export interface CacheSetOptions {
  /** @defaultValue the cache's ttlMs */
  ttlMs?: number
  /** Tags for `invalidateTags`. */
  tags?: readonly string[]
}

export interface GetOrLoadOptions<T> {
  /** @defaultValue the cache's ttlMs */
  ttlMs?: number
  /** Tags of the loaded value (or a function of it). */
  tags?: readonly string[] | ((value: T) => readonly string[])
}

export interface HitEvent {
  key: string
  layer: 'near' | 'redis'
}
export interface KeyEvent {
  key: string
}
export interface LoadEvent {
  key: string
  durationMs: number
  /** The loader threw or timed out. */
  error?: Error
}
export interface RefreshEvent {
  key: string
  reason: 'stale' | 'ahead' | 'expired' | 'manual'
  error?: Error
}
export interface InvalidateEvent {
  /** Undefined: the whole near cache. */
  keys: string[] | undefined
  reason: NearFlushReason | 'delete' | 'tags'
}
export interface FallbackEvent {
  key: string
  error: RedkitError
}

export interface CacheEvents {
  hit: [HitEvent]
  miss: [KeyEvent]
  load: [LoadEvent]
  /** A stale entry was served (`staleWhileRevalidateMs`). */
  stale: [KeyEvent]
  refresh: [RefreshEvent]
  invalidate: [InvalidateEvent]
  /** Redis was unreachable and the loader was called directly. */
  fallback: [FallbackEvent]
  /** A background failure or a bad stored value; never thrown at the caller. */
  error: [RedkitError]
}

export interface CacheStats {
  hits: number
  nearHits: number
  misses: number
  /**
   * Misses answered by another caller's load rather than a loader call of their own: they joined a
   * load in flight in this process, or (distributed stampede) waited for another process's load.
   */
  coalesced: number
  loads: number
  loadErrors: number
  stale: number
  refreshes: number
  fallbacks: number
  errors: number
}
