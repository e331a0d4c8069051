import { defineKeyedScript, defineScript, type Script } from '../core/scripts.js'
import type { BloomKeys, LeaderboardKeys, TimeseriesKeys } from './keys.js'

/** Every rate limiter script takes one key per decision and `[limit, windowMs, ...costs]` (the sliding window: `[limit, windowMs, precisionMs, ...costs]`); five numbers per decision, then the server time. */
type RateLimitScript = Script<readonly string[], readonly number[], number[]>

/** Typed handles on the stats scripts (src/lua/<name>.lua); the KEYS/ARGV order is each file's header. */
export const scripts = {
  rateLimit: {
    'sliding-window': defineScript('ratelimit-sliding') as RateLimitScript,
    'token-bucket': defineScript('ratelimit-gcra') as RateLimitScript,
    'fixed-window': defineScript('ratelimit-fixed') as RateLimitScript,
  },
  /** ARGV: order, maxSize, expireAt, then (member, value, mode) per update; flat score, rank per update (score '!range': refused). */
  leaderboardUpdate: defineKeyedScript<LeaderboardKeys, Array<string | number>, Array<string | number>>('leaderboard-update'),
  leaderboardRead: defineKeyedScript<
    Pick<LeaderboardKeys, 'board' | 'index'>,
    [mode: 'range' | 'rank' | 'around', order: string, a: string | number, b: number],
    Array<string | number>
  >('leaderboard-read'),
  timeseriesIncr: defineKeyedScript<TimeseriesKeys, [n: number, minute: number, hour: number, day: number, month: number], string[]>(
    'timeseries-incr',
  ),
  /** KEYS: the temporary merge key, then the buckets of this step; ARGV: its TTL in ms. */
  uniqueMerge: defineScript('unique-merge') as Script<readonly string[], readonly [ttlMs: number], number>,
  uniqueAdd: defineKeyedScript<{ hll: string }, [expireAt: number, ...members: string[]], number>('unique-add'),
  windowIncr: defineKeyedScript<{ window: string }, [n: number, precisionMs: number, buckets: number], string>('window-incr'),
  bloomInit: defineKeyedScript<
    Pick<BloomKeys, 'params'>,
    [bits: number, hashes: number, maxBits: number, scheme: number],
    [bits: number, hashes: number, scheme: number]
  >('bloom-init'),
  bloomAdd: defineKeyedScript<Pick<BloomKeys, 'bits' | 'params'>, number[], number[]>('bloom-add'),
  bloomCheck: defineKeyedScript<Pick<BloomKeys, 'bits' | 'params'>, number[], number[]>('bloom-check'),
  leaderboardRemove: defineKeyedScript<Pick<LeaderboardKeys, 'board' | 'index'>, [member: string], number>('leaderboard-remove'),
}
