/** The name of every stored part of `redkit/stats` objects (the last segment of their keys). */
export const PARTS = {
  /**
   * Rate limiter state, one key per (limiter, user key), algorithm, limit and window
   * (`rl-win:<limit>:<windowMs>:<precisionMs>`, `rl-tat:<limit>:<windowMs>`, ...). The sliding window
   * was a log (`rl-log`) before 2026-12-01: those keys are not read, and expire within their window.
   */
  rateLimit: { 'sliding-window': 'rl-win', 'token-bucket': 'rl-tat', 'fixed-window': 'rl-fixed' },
  /** Leaderboard: the sorted set, member -> stored member, and the tie-break sequence. */
  leaderboard: 'lb',
  leaderboardIndex: 'index',
  leaderboardSeq: 'seq',
  /** Timeseries buckets: `ts:<granularity>:<bucket start ms>`. */
  timeseries: 'ts',
  /** Unique-count HyperLogLogs: `hll:<bucket start ms>`. */
  unique: 'hll',
  /** A count's temporary merge of many buckets: `hll-merge:<uuid>`, deleted after the count, expiring within a minute otherwise. */
  uniqueMerge: 'hll-merge',
  /** Sliding window counter: a hash of `index mod buckets` -> `<index>:<count>`, plus SLIDING_WINDOW_FIELDS. */
  slidingWindow: 'sw',
  /** Bloom filter: bitmap and recorded size (Lua backend), or the server's filter (BF.*). */
  bloomBits: 'bloom',
  bloomParams: 'bloom-params',
  bloomServer: 'bf',
} as const

/** Fields of the Bloom filter's recorded layout (no scheme: scheme 1, see bloom-math.ts). */
export const BLOOM_FIELDS = { bits: 'bits', hashes: 'hashes', scheme: 'scheme' } as const

/** The sliding window's running total: the newest bucket counted and the total of its window. */
export const SLIDING_WINDOW_FIELDS = { head: 'h', total: 't' } as const

/** Digits of the tie-break sequence a leaderboard stores in front of each member. */
export const SEQ_DIGITS = 15
