import { randomUUID } from 'node:crypto'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { bucketStart, calendarBucket, nextBucketStart } from '../core/time-zone.js'
import { instant, member, optionsObject, statsName } from './checks.js'
import { uniqueKey, uniqueMergeKey } from './keys.js'
import { resolveUnique } from './options.js'
import { scripts } from './scripts.js'
import { clockFor, type NowSource } from './server-clock.js'
import type { UniqueOptions } from './types.js'

/** Most buckets one `count` merges (a year of hours is 8,784). */
const MAX_BUCKETS = 10_000
/** Members per PFADD call (unpack() in Lua has a stack limit near 8,000). */
const ADD_CHUNK = 5000
/**
 * Buckets per server call of a count: a dense HyperLogLog costs ~70 µs to merge, so one PFCOUNT of
 * a year of hours held the server ~0.64 s. Past this many buckets a count merges them in steps of
 * this size into a temporary key (~7 ms each, other clients served in between), then counts it.
 */
export const COUNT_STEP = 100
/** How long a count's temporary key lives if its process dies before deleting it. */
const MERGE_TTL_MS = 60_000

/**
 * Unique counts (daily visitors) in HyperLogLogs, one per hour or day: `add` in one round trip,
 * `count({ from, to })` merges the buckets of the interval: one multi-key PFCOUNT for up to 100
 * buckets, steps of 100 PFMERGEs into a temporary key beyond (standard error 0.81%). PFCOUNT and
 * PFMERGE over several keys need them in one Cluster slot: every bucket
 * of a counter carries the counter's name as its hash tag (`<prefix>:{<name>}:hll:<start>`), so
 * they always are, and the command is routed to that slot's master.
 */
export class UniqueCounter {
  readonly name: string
  readonly #rk: RedkitContext
  readonly #options: ReturnType<typeof resolveUnique>
  readonly #clock: NowSource

  constructor(rk: RedkitContext, name: string, options?: UniqueOptions) {
    this.name = statsName(name, 'unique counter name')
    this.#options = resolveUnique(options)
    this.#rk = rk
    this.#clock = clockFor(rk.connection, this.#options.clock)
  }

  /** Counts `member` once in the bucket holding `at` (default: now). @returns true when the estimate changed */
  async add(name: string, at?: Date | number): Promise<boolean> {
    return this.addMany([name], at)
  }

  /** Counts each member once in the bucket holding `at` (default: now). @returns true when the estimate changed */
  async addMany(names: readonly string[], at?: Date | number): Promise<boolean> {
    if (!Array.isArray(names)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'members must be an array of strings')
    const members = names.map((n) => member(n, 'unique member'))
    const when = instant(at === undefined ? await this.#clock.now() : at, 'at')
    if (members.length === 0) return false
    const { granularity, timeZone, retentionMs } = this.#options
    const bucket = calendarBucket(when, granularity, timeZone)
    const key = uniqueKey(this.#rk.keys, this.name, bucket.start)
    const expireAt = bucket.end + retentionMs
    const calls: Array<Promise<number>> = []
    for (let i = 0; i < members.length; i += ADD_CHUNK)
      calls.push(scripts.uniqueAdd.call(this.#rk.connection, { hll: key }, [expireAt, ...members.slice(i, i + ADD_CHUNK)]))
    return (await Promise.all(calls)).some((changed) => changed === 1)
  }

  /** Estimated distinct members added from the bucket holding `from` to the one holding `to`. */
  async count(range: { from: Date | number; to: Date | number }): Promise<number> {
    const r = optionsObject(range, 'count range')
    const from = instant(r.from, 'from')
    const to = instant(r.to, 'to')
    if (to < from) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'to must not be before from')
    const { granularity, timeZone } = this.#options
    const keys: string[] = []
    for (let start = bucketStart(from, granularity, timeZone); start <= to; start = nextBucketStart(start, granularity, timeZone)) {
      if (keys.length === MAX_BUCKETS)
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `count spans more than ${MAX_BUCKETS} ${granularity} buckets`)
      keys.push(uniqueKey(this.#rk.keys, this.name, start))
    }
    const { connection } = this.#rk
    if (keys.length <= COUNT_STEP) return connection.send<number>(['PFCOUNT', ...keys], { key: keys[0] })
    const merged = uniqueMergeKey(this.#rk.keys, this.name, randomUUID())
    try {
      for (let i = 0; i < keys.length; i += COUNT_STEP)
        await scripts.uniqueMerge.run(connection, [merged, ...keys.slice(i, i + COUNT_STEP)], [MERGE_TTL_MS])
      return await connection.send<number>(['PFCOUNT', merged], { key: merged })
    } finally {
      await connection.send(['DEL', merged], { key: merged }).catch(() => {})
    }
  }
}
