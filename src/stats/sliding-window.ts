import type { RedkitContext } from '../core/context.js'
import { integer, statsName } from './checks.js'
import { slidingWindowKey } from './keys.js'
import { resolveSlidingWindow } from './options.js'
import { scripts } from './scripts.js'
import type { SlidingWindowOptions } from './types.js'

/**
 * "Requests in the last 60 s": a counter over a window that slides with the server's clock, in
 * buckets of `precisionMs` (a ring of windowMs / precisionMs hash fields, so memory is bounded).
 * The count covers the current bucket and the ones before it within the window: exact at bucket
 * precision (a bucket leaves the window whole, never pro rata).
 */
export class SlidingWindowCounter {
  readonly name: string
  readonly windowMs: number
  readonly precisionMs: number
  readonly #rk: RedkitContext
  readonly #buckets: number
  readonly #key: string

  constructor(rk: RedkitContext, name: string, options: SlidingWindowOptions) {
    this.name = statsName(name, 'sliding window name')
    const resolved = resolveSlidingWindow(options)
    this.windowMs = resolved.windowMs
    this.precisionMs = resolved.precisionMs
    this.#buckets = resolved.buckets
    this.#rk = rk
    this.#key = slidingWindowKey(rk.keys, this.name)
  }

  /** Adds `n` (a positive safe integer) now. @returns the count in the window, n included */
  async incr(n = 1): Promise<number> {
    integer(n, 'n', 1, Number.MAX_SAFE_INTEGER)
    return this.#run(n)
  }

  /** The count in the window now. */
  async count(): Promise<number> {
    return this.#run(0)
  }

  /** Empties the window. */
  async reset(): Promise<void> {
    await this.#rk.connection.send(['DEL', this.#key], { key: this.#key })
  }

  async #run(n: number): Promise<number> {
    return Number(await scripts.windowIncr.call(this.#rk.connection, { window: this.#key }, [n, this.precisionMs, this.#buckets]))
  }
}
