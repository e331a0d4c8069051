import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { bucketStart, calendarBucket, nextBucketStart } from '../core/time-zone.js'
import { instant, integer, oneOf, optionsObject, statsName } from './checks.js'
import { type TimeseriesKeys, timeseriesKey, timeseriesUnusedKey } from './keys.js'
import { GRANULARITIES, type ResolvedTimeseriesOptions, resolveTimeseries } from './options.js'
import { scripts } from './scripts.js'
import { clockFor, type NowSource } from './server-clock.js'
import { TickBatcher } from './tick-batcher.js'
import type { Bucket, Granularity, RangeQuery, TimeseriesOptions } from './types.js'

/** Most buckets one `range` returns (a year of hours is 8,784). */
const MAX_RANGE_BUCKETS = 50_000
/** Keys per MGET: one slot, so any number works; chunks keep replies small. */
const MGET_CHUNK = 1000

interface Slot {
  minuteStart: number
  minuteEnd: number
  keys: TimeseriesKeys
  expireAt: [number, number, number, number]
}

/**
 * Counts per minute, hour, day and month: `incr` adds to the bucket of every granularity in one
 * script call, `range` reads every bucket of an interval, empty ones included (as 0). Hour, day
 * and month boundaries follow a time zone; each granularity has its own retention. All buckets of
 * a series share its hash tag (one Cluster slot), so one call reaches them all. The increments of
 * one minute asked in the same tick share one script call (adding their sum); each caller still
 * gets the counts after its own increment, as if they had run one after the other.
 */
export class Timeseries {
  readonly name: string
  readonly granularities: readonly Granularity[]
  readonly #rk: RedkitContext
  readonly #options: ResolvedTimeseriesOptions
  readonly #clock: NowSource
  readonly #unused: string
  #slot: Slot | undefined
  readonly #writes = new TickBatcher<Slot, number, Partial<Record<Granularity, number>>>((slot, ns) => this.#write(slot, ns))

  constructor(rk: RedkitContext, name: string, options?: TimeseriesOptions) {
    this.name = statsName(name, 'timeseries name')
    this.#options = resolveTimeseries(options)
    this.granularities = this.#options.granularities
    this.#rk = rk
    this.#clock = clockFor(rk.connection, this.#options.clock)
    this.#unused = timeseriesUnusedKey(rk.keys, this.name)
  }

  /**
   * Adds `n` (a non-negative safe integer) at `at` (default: now) to every granularity's bucket.
   * @returns the count of each kept granularity's bucket after the increment
   */
  async incr(n = 1, at?: Date | number): Promise<Partial<Record<Granularity, number>>> {
    integer(n, 'n', 0, Number.MAX_SAFE_INTEGER)
    const when = instant(at === undefined ? await this.#clock.now() : at, 'at')
    return this.#writes.run(this.#slotOf(when), n)
  }

  /** One script call adding the sum; the counts each caller would have seen had they run in order. */
  async #write(slot: Slot, ns: readonly number[]): Promise<Array<Partial<Record<Granularity, number>>>> {
    let total = 0
    for (const n of ns) total += n
    if (!Number.isSafeInteger(total))
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `timeseries ${this.name}: the increments of one tick pass 2^53-1`)
    const reply = await scripts.timeseriesIncr.call(this.#rk.connection, slot.keys, [total, ...slot.expireAt])
    if (!Array.isArray(reply) || reply.length !== GRANULARITIES.length)
      throw new RedkitError(ErrorCodes.E_SCRIPT, `timeseries ${this.name}: the script answered ${String(reply?.length)} values`)
    const after = this.granularities.map((g) => Number(reply[GRANULARITIES.indexOf(g)]))
    const out: Array<Partial<Record<Granularity, number>>> = []
    let later = total
    for (const n of ns) {
      later -= n
      const counts: Partial<Record<Granularity, number>> = {}
      // 0: not kept, or already past its retention (not written): the same for every caller.
      this.granularities.forEach((g, i) => {
        const value = after[i] as number
        counts[g] = value === 0 ? 0 : value - later
      })
      out.push(counts)
    }
    return out
  }

  /** Every bucket from the one holding `from` to the one holding `to`, oldest first; empty or expired buckets are 0. */
  async range(query: RangeQuery): Promise<Bucket[]> {
    const q = optionsObject(query, 'range query')
    const granularity = oneOf(q.granularity, 'granularity', this.granularities)
    const from = instant(q.from, 'from')
    const to = instant(q.to, 'to')
    if (to < from) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'to must not be before from')
    const { timeZone } = this.#options
    const starts: number[] = []
    for (let start = bucketStart(from, granularity, timeZone); start <= to; start = nextBucketStart(start, granularity, timeZone)) {
      if (starts.length === MAX_RANGE_BUCKETS)
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `range spans more than ${MAX_RANGE_BUCKETS} ${granularity} buckets`)
      starts.push(start)
    }
    const keys = starts.map((start) => timeseriesKey(this.#rk.keys, this.name, granularity, start))
    const replies = await Promise.all(
      Array.from({ length: Math.ceil(keys.length / MGET_CHUNK) }, (_, i) => {
        const chunk = keys.slice(i * MGET_CHUNK, (i + 1) * MGET_CHUNK)
        return this.#rk.connection.send<Array<string | null>>(['MGET', ...chunk], { key: chunk[0] })
      }),
    )
    return replies.flat().map((value, i) => {
      // The same rule as the incr script: digits only (no '0x10', '1e5', ' 7').
      const count = value === null ? 0 : /^\d+$/.test(value) ? Number(value) : Number.NaN
      if (!Number.isSafeInteger(count) || count < 0)
        throw new RedkitError(ErrorCodes.E_DECODE, `timeseries ${this.name}: bucket ${keys[i]} holds a value redkit did not write`)
      return { start: starts[i] as number, value: count }
    })
  }

  /** The keys and expiries of the buckets holding `at`; the same for a whole minute bucket, so they are computed once per minute. */
  #slotOf(at: number): Slot {
    const cached = this.#slot
    if (cached && at >= cached.minuteStart && at < cached.minuteEnd) return cached
    const { timeZone, retention } = this.#options
    const keys = { minute: this.#unused, hour: this.#unused, day: this.#unused, month: this.#unused }
    const expireAt: [number, number, number, number] = [0, 0, 0, 0]
    for (const g of this.granularities) {
      const bucket = calendarBucket(at, g, timeZone)
      keys[g] = timeseriesKey(this.#rk.keys, this.name, g, bucket.start)
      expireAt[GRANULARITIES.indexOf(g)] = bucket.end + retention[g]
    }
    const minute = calendarBucket(at, 'minute', timeZone)
    const slot = { minuteStart: minute.start, minuteEnd: minute.end, keys, expireAt }
    this.#slot = slot
    return slot
  }
}
