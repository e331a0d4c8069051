import type { RedkitContext } from '../../core/context.js'
import { ErrorCodes, RedkitError } from '../../core/errors.js'
import { integer, member, statsName } from '../checks.js'
import { rateLimitKey } from '../keys.js'
import { type ResolvedRateLimiterOptions, resolveRateLimiter } from '../options.js'
import { scripts } from '../scripts.js'
import type { RateLimitAlgorithm, RateLimiterOptions, RateLimitResult } from '../types.js'
import { type Decision, DecisionBatcher } from './batcher.js'
import { InMemoryBlock } from './block.js'

/**
 * A rate limiter over Redis: `consume(key, cost)` decides in one script call on the server's
 * clock, so every process agrees whatever its own clock says. Keys already over their limit are
 * denied from memory until their retry-after (`inMemoryBlock`), so a hot abusive key costs no
 * Redis call at all.
 */
export class RateLimiter {
  readonly name: string
  readonly limit: number
  readonly windowMs: number
  /** The sliding window's bucket in ms (for the other algorithms: windowMs). */
  readonly precisionMs: number
  readonly algorithm: RateLimitAlgorithm
  readonly #rk: RedkitContext
  readonly #options: ResolvedRateLimiterOptions
  readonly #block: InMemoryBlock | undefined
  readonly #batcher: DecisionBatcher
  /**
   * Reset generations: `reset(key)` bumps #epoch and records it for the key, and a consume whose
   * decision was asked before that reset does not block the key (its reply may arrive after the
   * reset, and it describes the state the reset removed). Pruned once no older consume is in flight.
   */
  #epoch = 0
  readonly #resetAt = new Map<string, number>()
  readonly #inFlight = new Map<number, number>()

  constructor(rk: RedkitContext, name: string, options: RateLimiterOptions) {
    this.name = statsName(name, 'rate limiter name')
    this.#options = resolveRateLimiter(options)
    this.limit = this.#options.limit
    this.windowMs = this.#options.windowMs
    this.precisionMs = this.#options.precisionMs
    this.algorithm = this.#options.algorithm
    this.#rk = rk
    const head = this.algorithm === 'sliding-window' ? [this.limit, this.windowMs, this.precisionMs] : [this.limit, this.windowMs]
    this.#batcher = new DecisionBatcher(rk.connection, scripts.rateLimit[this.algorithm], head)
    this.#block = this.#options.inMemoryBlock ? new InMemoryBlock(this.#options.inMemoryBlockMaxKeys) : undefined
  }

  /**
   * Spends `cost` of the key's limit if it is available; nothing is spent when it is not.
   * @throws RedkitError E_INVALID_KEY (bad key), E_INVALID_ARGUMENT (cost not an integer from 1 to limit),
   * E_CONNECTION at once while Redis is not connected, E_DECODE when the key holds data redkit did not write
   */
  async consume(key: string, cost = 1): Promise<RateLimitResult> {
    const redisKey = this.#key(key)
    integer(cost, 'cost', 1, this.limit)
    if (this.#block) {
      const blocked = this.#block.remaining(redisKey)
      if (blocked) {
        return {
          allowed: false,
          limit: this.limit,
          remaining: 0,
          resetMs: Math.ceil(blocked.resetMs),
          retryAfterMs: Math.ceil(blocked.blockedMs),
        }
      }
    }
    const { connection } = this.#rk
    // During an outage decide at once instead of waiting connectTimeoutMs per request.
    if (!connection.isReady) throw new RedkitError(ErrorCodes.E_CONNECTION, `rate limiter ${this.name}: Redis is not connected`)
    if (!this.#block) return this.#result(await this.#batcher.decide(redisKey, cost))
    const epoch = this.#epoch
    this.#inFlight.set(epoch, (this.#inFlight.get(epoch) ?? 0) + 1)
    try {
      const reply = await this.#batcher.decide(redisKey, cost)
      if (reply[4] > 0 && (this.#resetAt.get(redisKey) ?? -1) <= epoch) this.#block.block(redisKey, reply[4], reply[2])
      return this.#result(reply)
    } finally {
      const left = (this.#inFlight.get(epoch) ?? 1) - 1
      if (left > 0) this.#inFlight.set(epoch, left)
      else this.#inFlight.delete(epoch)
      this.#pruneResets()
    }
  }

  /** The key's state without spending anything; `allowed` tells whether a cost of 1 would pass. Always asks Redis. */
  async peek(key: string): Promise<RateLimitResult> {
    const redisKey = this.#key(key)
    return this.#result(await this.#batcher.decide(redisKey, 0))
  }

  /** Forgets the key: its full limit is available again (other processes' in-memory blocks last until their retry-after). */
  async reset(key: string): Promise<void> {
    const redisKey = this.#key(key)
    if (this.#block) {
      this.#block.unblock(redisKey)
      this.#resetAt.delete(redisKey)
      this.#resetAt.set(redisKey, ++this.#epoch)
    }
    await this.#rk.connection.send(['DEL', redisKey], { key: redisKey })
  }

  /** Keys currently denied from memory. */
  get blockedKeys(): number {
    return this.#block?.size ?? 0
  }

  #key(key: string): string {
    return rateLimitKey(this.#rk.keys, this.name, this, member(key, 'rate limit key'))
  }

  /** Forgets reset generations no consume in flight can still be older than (#resetAt is in epoch order). */
  #pruneResets(): void {
    if (this.#resetAt.size === 0) return
    let oldest = this.#epoch + 1
    for (const epoch of this.#inFlight.keys()) {
      oldest = epoch
      break
    }
    for (const [key, epoch] of this.#resetAt) {
      if (epoch > oldest) break
      this.#resetAt.delete(key)
    }
  }

  #result(reply: Decision): RateLimitResult {
    const [allowed, remaining, resetMs, retryAfterMs, , at] = reply
    return { allowed: allowed === 1, limit: this.limit, remaining, resetMs, retryAfterMs, at }
  }
}
