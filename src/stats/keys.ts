import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { KeySpace } from '../core/keys.js'
import type { Granularity, RateLimitAlgorithm } from './types.js'
import { PARTS } from './wire.js'

/**
 * Every key of `redkit/stats`, hash tag by construction. One stats object's keys share the tag of
 * its name (`<prefix>:{<name>}:...`), so its multi-key scripts and PFCOUNT/PFMERGE over several
 * buckets run in one Cluster slot. A rate limiter keeps one tag per counted key
 * (`<prefix>:{<name>:<key>}:...`) so that its keys spread over the cluster; names hold no ':',
 * so `<name>:<key>` splits one way only.
 */

/** What a rate limiter's state depends on: limiters that differ in any of it never share a key. */
export interface RateLimitShape {
  algorithm: RateLimitAlgorithm
  limit: number
  windowMs: number
  /** The sliding window's bucket (part of its key); unused by the other algorithms. */
  precisionMs: number
}

/**
 * The state of one rate-limited key: `<prefix>:{<name>:<key>}:rl-<algo>:<limit>:<windowMs>`, and
 * `:<precisionMs>` for the sliding window. The limit, window and bucket are part of it because each
 * algorithm's state means something only for them (a fixed-window counter of another window length
 * would be overwritten by the other's index; a ring of other buckets would be misread).
 * @throws RedkitError E_INVALID_KEY when the key holds a brace
 */
export function rateLimitKey(keys: KeySpace, name: string, shape: RateLimitShape, key: string): string {
  if (key.includes('{') || key.includes('}'))
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, "rate limit keys must not contain '{' or '}' (they delimit hash tags)")
  const base = `${keys.prefix}:{${name}:${key}}:${PARTS.rateLimit[shape.algorithm]}:${shape.limit}:${shape.windowMs}`
  return shape.algorithm === 'sliding-window' ? `${base}:${shape.precisionMs}` : base
}

export interface LeaderboardKeys {
  board: string
  index: string
  seq: string
}

/** A leaderboard's keys for one period (`all` when the board never rolls over). */
export function leaderboardKeys(keys: KeySpace, name: string, period: string): LeaderboardKeys {
  const own = keys.object(name)
  const board = own(PARTS.leaderboard, period)
  return { board, index: `${board}:${PARTS.leaderboardIndex}`, seq: `${board}:${PARTS.leaderboardSeq}` }
}

/** The four bucket keys of one timeseries write (a granularity the series does not keep gets a key it never touches). */
export type TimeseriesKeys = Record<Granularity, string>

export function timeseriesKey(keys: KeySpace, name: string, granularity: Granularity, start: number): string {
  return keys.key(name, PARTS.timeseries, granularity, String(start))
}

/** The key of granularities a series does not keep: the script is handed it and never touches it. */
export function timeseriesUnusedKey(keys: KeySpace, name: string): string {
  return keys.key(name, PARTS.timeseries, 'unused')
}

export function uniqueKey(keys: KeySpace, name: string, start: number): string {
  return keys.key(name, PARTS.unique, String(start))
}

/** A count's temporary merge of many buckets, in the counter's slot. */
export function uniqueMergeKey(keys: KeySpace, name: string, id: string): string {
  return keys.key(name, PARTS.uniqueMerge, id)
}

export function slidingWindowKey(keys: KeySpace, name: string): string {
  return keys.key(name, PARTS.slidingWindow)
}

export interface BloomKeys {
  bits: string
  params: string
  server: string
}

export function bloomKeys(keys: KeySpace, name: string): BloomKeys {
  const own = keys.object(name)
  return { bits: own(PARTS.bloomBits), params: own(PARTS.bloomParams), server: own(PARTS.bloomServer) }
}
