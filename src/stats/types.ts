/** Public option and result types of `redkit/stats`; defaults live in options.ts (`DEFAULTS`). */

export type RateLimitAlgorithm = 'sliding-window' | 'token-bucket' | 'fixed-window'

export interface RateLimiterOptions {
  /** Cost allowed per window (token bucket: the bucket's capacity). */
  limit: number
  /** The window in ms (token bucket: the time to refill the whole bucket). At most 2^31 - 1. */
  windowMs: number
  /**
   * - `sliding-window`: at bucket precision (`precisionMs`), counting the current bucket and the
   *   `windowMs / precisionMs` before it: never more than `limit` in any window of `windowMs`; a
   *   unit spent at t is available again between t + windowMs and t + windowMs + precisionMs.
   * - `token-bucket`: GCRA; bursts of up to `limit`, then one unit every `windowMs / limit` ms.
   * - `fixed-window`: a counter per window aligned on the server's clock; up to 2 x limit across a boundary.
   * @defaultValue 'sliding-window'
   */
  algorithm?: RateLimitAlgorithm
  /**
   * `sliding-window` only: the bucket size in ms, a divisor of `windowMs` (at most 10,000 buckets).
   * A unit comes back between `windowMs` and `windowMs + precisionMs` after it was spent. A decision
   * reads the buckets passed since the key's last one (under steady traffic none or one, read with
   * the total), and a refused one walks them from the oldest until enough capacity returns; a key
   * keeps one hash field per bucket: finer buckets cost more on idle-then-busy keys and on denials.
   * @defaultValue the largest divisor of windowMs that makes at least 10 buckets (1 s: 100 ms; 60 s: 6 s)
   */
  precisionMs?: number
  /**
   * Keys over their limit are denied from memory, without a Redis call, until their retry-after
   * (measured on this process's monotonic clock). A `reset(key)` elsewhere is not seen until then.
   * @defaultValue true
   */
  inMemoryBlock?: boolean
  /** Most keys the in-memory block remembers; the oldest are forgotten first. @defaultValue 10_000 */
  inMemoryBlockMaxKeys?: number
}

export interface RateLimitResult {
  /** Whether this request may go ahead (for `peek`: whether a cost of 1 would). */
  allowed: boolean
  /** The limit of the limiter. */
  limit: number
  /** Cost still available right after this decision. */
  remaining: number
  /** Ms until the full limit is available again. */
  resetMs: number
  /** Ms until this request could be allowed (0 when allowed). */
  retryAfterMs: number
  /** Server time of the decision (epoch ms); absent when the in-memory block decided. */
  at?: number
}

export type LeaderboardOrder = 'desc' | 'asc'
export type LeaderboardPeriod = 'none' | 'daily' | 'weekly'

export interface LeaderboardOptions {
  /** Keep only the best `maxSize` members (the worst are dropped on write). @defaultValue unlimited */
  maxSize?: number
  /** `desc`: the highest score ranks first; `asc`: the lowest. @defaultValue 'desc' */
  order?: LeaderboardOrder
  /** A fresh board every day or week (weeks start on Monday), in `timeZone`. @defaultValue 'none' */
  period?: LeaderboardPeriod
  /** IANA time zone of the daily and weekly boundaries. @defaultValue 'UTC' */
  timeZone?: string
  /** How long a past period's board is kept after it ends, in ms. @defaultValue 7 days */
  keepPastMs?: number
  /**
   * Where "now" comes from when a write picks its period or bucket (tests, replays).
   * @defaultValue the Redis server's clock, estimated from TIME once a minute
   */
  clock?: { now(): number }
}

export interface LeaderboardEntry {
  member: string
  score: number
  /** 1-based. */
  rank: number
}

export type Granularity = 'minute' | 'hour' | 'day' | 'month'

export interface TimeseriesOptions {
  /** Bucket sizes to count in. @defaultValue ['minute', 'hour', 'day', 'month'] */
  granularities?: readonly Granularity[]
  /** How long each granularity's buckets are kept after they end, in ms. @defaultValue DEFAULTS.timeseries.retention */
  retention?: Partial<Record<Granularity, number>>
  /** IANA time zone of hour, day and month boundaries. @defaultValue 'UTC' */
  timeZone?: string
  /**
   * Where "now" comes from when a write picks its period or bucket (tests, replays).
   * @defaultValue the Redis server's clock, estimated from TIME once a minute
   */
  clock?: { now(): number }
}

export interface RangeQuery {
  from: Date | number
  to: Date | number
  granularity: Granularity
}

export interface Bucket {
  /** Start of the bucket (epoch ms). */
  start: number
  value: number
}

export interface UniqueOptions {
  /** Bucket size of the HyperLogLogs. @defaultValue 'day' */
  granularity?: 'hour' | 'day'
  /** How long a bucket is kept after it ends, in ms. @defaultValue 400 days */
  retentionMs?: number
  /** IANA time zone of the buckets. @defaultValue 'UTC' */
  timeZone?: string
  /**
   * Where "now" comes from when a write picks its period or bucket (tests, replays).
   * @defaultValue the Redis server's clock, estimated from TIME once a minute
   */
  clock?: { now(): number }
}

export interface SlidingWindowOptions {
  /** Length of the window in ms. */
  windowMs: number
  /**
   * Bucket size in ms; windowMs must be a multiple, with at most 10,000 buckets.
   * @defaultValue the largest divisor of windowMs that makes at least 60 buckets (1000 ms: 10 ms; 60,000 ms: 1000 ms)
   */
  precisionMs?: number
}

export interface BloomOptions {
  /** Items the filter is sized for; beyond it the false-positive rate climbs. */
  expectedItems: number
  /** Wanted probability that `mightContain` says yes for an item never added (0 < p < 1). */
  falsePositiveRate: number
  /**
   * `lua`: a bitmap and scripts (tested everywhere); `server`: the server's BF.* commands
   * (RedisBloom, Redis 8, valkey-bloom); `auto`: `server` when COMMAND INFO shows BF.ADD and no Lua
   * filter of this name exists. `server` and `auto` are faster (7-20x measured) but tested only
   * where a Bloom module is loaded, not in CI (docs/stats.md).
   * @defaultValue 'lua' (a name that already holds a BF.* filter keeps using it)
   */
  backend?: 'auto' | 'server' | 'lua'
  /**
   * Largest stored size adopted from Redis (the first user's), in bits: a planted or mistaken size
   * beyond it is refused (E_DECODE) instead of allocated. @defaultValue max(2^27, the requested bits)
   */
  maxBits?: number
}

export interface BloomSize {
  /** Bits of the bitmap. */
  bits: number
  /** Hash positions per item. */
  hashes: number
}
