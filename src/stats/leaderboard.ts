import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { calendarBucket, isoDate } from '../core/time-zone.js'
import { instant, integer, member, optionsObject, statsName } from './checks.js'
import { type LeaderboardKeys, leaderboardKeys } from './keys.js'
import { type ResolvedLeaderboardOptions, resolveLeaderboard } from './options.js'
import { scripts } from './scripts.js'
import { clockFor, type NowSource } from './server-clock.js'
import { TickBatcher } from './tick-batcher.js'
import type { LeaderboardEntry, LeaderboardOptions } from './types.js'
import { SEQ_DIGITS } from './wire.js'

const MAX_SCORE = Number.MAX_SAFE_INTEGER
/** Most entries one read returns. */
const MAX_READ = 10_000

interface Update {
  member: string
  value: number
  mode: 'set' | 'incr'
}

interface Period {
  keys: LeaderboardKeys
  expireAt: number
}

export interface LeaderboardReadOptions {
  /** A time inside the period to read (daily and weekly boards). @defaultValue now (server time) */
  at?: Date | number
}

/**
 * A leaderboard in a sorted set: integer scores, 1-based ranks, ties broken by who reached the
 * score first, optionally capped to the best `maxSize`, optionally a fresh board every day or
 * week in a time zone (past boards expire `keepPastMs` after their period ends). Every write
 * is one round trip that also returns the new rank; the writes to one board made in the same tick
 * share one script call.
 */
export class Leaderboard {
  readonly name: string
  readonly #rk: RedkitContext
  readonly #options: ResolvedLeaderboardOptions
  readonly #clock: NowSource
  readonly #all: Period
  readonly #writes = new TickBatcher<string, Update & { period: Period }, { score: number; rank: number }>((_board, batch) =>
    this.#write(batch),
  )

  constructor(rk: RedkitContext, name: string, options?: LeaderboardOptions) {
    this.name = statsName(name, 'leaderboard name')
    this.#options = resolveLeaderboard(options)
    this.#rk = rk
    this.#clock = clockFor(rk.connection, this.#options.clock)
    this.#all = { keys: leaderboardKeys(rk.keys, this.name, 'all'), expireAt: 0 }
  }

  /** Sets a member's score (a non-negative safe integer). @returns its score and rank (rank 0: it did not make the maxSize cut) */
  async add(name: string, score: number): Promise<{ score: number; rank: number }> {
    return this.#update(name, integer(score, 'score', 0, MAX_SCORE), 'set')
  }

  /** Adds `by` (a safe integer, negative to subtract) to a member's score; the result must stay in 0..2^53-1. */
  async incr(name: string, by = 1): Promise<{ score: number; rank: number }> {
    return this.#update(name, integer(by, 'by', -MAX_SCORE, MAX_SCORE), 'incr')
  }

  /** The best `n` members, best first. */
  async top(n: number, options?: LeaderboardReadOptions): Promise<LeaderboardEntry[]> {
    integer(n, 'n', 1, MAX_READ)
    return this.#range(0, n - 1, options)
  }

  /** Page `page` (0-based) of `size` entries. */
  async page(page: number, size: number, options?: LeaderboardReadOptions): Promise<LeaderboardEntry[]> {
    integer(size, 'size', 1, MAX_READ)
    integer(page, 'page', 0, Math.floor(MAX_SCORE / size) - 1)
    return this.#range(page * size, page * size + size - 1, options)
  }

  /** A member's rank (1-based) and score, or undefined when it is not on the board. */
  async rank(name: string, options?: LeaderboardReadOptions): Promise<LeaderboardEntry | undefined> {
    const m = member(name, 'leaderboard member')
    const keys = await this.#keys(options)
    const reply = await scripts.leaderboardRead.call(this.#rk.connection, keys, ['rank', this.#options.order, m, 0])
    return this.#entries(reply)[0]
  }

  /** The member and up to `n` entries on each side of it (empty when it is not on the board). */
  async around(name: string, n: number, options?: LeaderboardReadOptions): Promise<LeaderboardEntry[]> {
    const m = member(name, 'leaderboard member')
    integer(n, 'n', 0, MAX_READ)
    const keys = await this.#keys(options)
    return this.#entries(await scripts.leaderboardRead.call(this.#rk.connection, keys, ['around', this.#options.order, m, n]))
  }

  /** @returns true when the member was on the board */
  async remove(name: string, options?: LeaderboardReadOptions): Promise<boolean> {
    const m = member(name, 'leaderboard member')
    const keys = await this.#keys(options)
    return (await scripts.leaderboardRemove.call(this.#rk.connection, keys, [m])) === 1
  }

  /** Members on the board. */
  async size(options?: LeaderboardReadOptions): Promise<number> {
    const { board } = await this.#keys(options)
    return this.#rk.connection.send<number>(['ZCARD', board], { key: board })
  }

  /** Removes the board of the period (all of it for a board without periods). */
  async clear(options?: LeaderboardReadOptions): Promise<void> {
    const keys = await this.#keys(options)
    await this.#rk.connection.send(['DEL', keys.board, keys.index, keys.seq], { key: keys.board })
  }

  async #update(name: string, value: number, mode: 'set' | 'incr'): Promise<{ score: number; rank: number }> {
    const m = member(name, 'leaderboard member')
    const period = this.#options.period === 'none' ? this.#all : this.#period(instant(await this.#clock.now(), 'clock.now()'))
    return this.#writes.run(period.keys.board, { member: m, value, mode, period })
  }

  async #write(batch: ReadonlyArray<Update & { period: Period }>): Promise<Array<{ score: number; rank: number } | RedkitError>> {
    const { keys, expireAt } = (batch[0] as Update & { period: Period }).period
    const { order, maxSize } = this.#options
    const args: Array<string | number> = [order, maxSize ?? 0, expireAt]
    for (const u of batch) args.push(u.member, u.value, u.mode)
    const reply = await scripts.leaderboardUpdate.call(this.#rk.connection, keys, args)
    if (!Array.isArray(reply) || reply.length !== 2 * batch.length)
      throw new RedkitError(
        ErrorCodes.E_SCRIPT,
        `leaderboard ${this.name}: the script answered ${String(reply?.length)} values for ${batch.length} writes`,
      )
    return batch.map((u, i) => {
      const score = reply[2 * i]
      const rank = reply[2 * i + 1]
      if (score === '!range')
        return new RedkitError(
          ErrorCodes.E_INVALID_ARGUMENT,
          `leaderboard ${this.name}: the score of ${u.member} would leave 0..2^53-1 (${u.mode} ${u.value})`,
        )
      return { score: Number(score), rank: Number(rank) }
    })
  }

  async #range(first: number, last: number, options: LeaderboardReadOptions | undefined): Promise<LeaderboardEntry[]> {
    const keys = await this.#keys(options)
    return this.#entries(await scripts.leaderboardRead.call(this.#rk.connection, keys, ['range', this.#options.order, first, last]))
  }

  #entries(reply: Array<string | number>): LeaderboardEntry[] {
    const first = Number(reply[0])
    const out: LeaderboardEntry[] = []
    if (first < 0) return out
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const stored = String(reply[i])
      const score = Number(reply[i + 1])
      if (stored.length <= SEQ_DIGITS || !Number.isSafeInteger(score))
        throw new RedkitError(ErrorCodes.E_DECODE, `leaderboard ${this.name} holds an entry redkit did not write`)
      out.push({ member: stored.slice(SEQ_DIGITS), score, rank: first + out.length + 1 })
    }
    return out
  }

  async #keys(options: LeaderboardReadOptions | undefined): Promise<LeaderboardKeys> {
    const { at } = optionsObject(options, 'leaderboard read options')
    return this.#period(instant(at === undefined ? await this.#clock.now() : at, 'at')).keys
  }

  #period(at: number): Period {
    const { period, timeZone, keepPastMs } = this.#options
    if (period === 'none') return this.#all
    const bucket = calendarBucket(at, period === 'daily' ? 'day' : 'week', timeZone)
    // Named after the local date it starts on (as the clocks show it, also when DST skips midnight).
    const label = `${period === 'daily' ? 'd' : 'w'}${isoDate(bucket.wallStart)}`
    return { keys: leaderboardKeys(this.#rk.keys, this.name, label), expireAt: bucket.end + keepPastMs }
  }
}
