import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'

/**
 * Bounded concurrency for loader calls made while Redis is unreachable: at most `concurrency` run
 * at once, at most `maxWaiting` queue behind them; beyond that callers get the connection error
 * instead of piling onto the source of truth.
 */
export class Limiter {
  readonly concurrency: number
  readonly maxWaiting: number
  #running = 0
  readonly #queue: Array<() => void> = []

  constructor(concurrency: number, maxWaiting: number) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `fallback.concurrency must be a positive integer, got ${describeValue(concurrency)}`,
      )
    if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0)
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `fallback.maxWaiting must be a non-negative integer, got ${describeValue(maxWaiting)}`,
      )
    this.concurrency = concurrency
    this.maxWaiting = maxWaiting
  }

  get running(): number {
    return this.#running
  }

  get waiting(): number {
    return this.#queue.length
  }

  /** Runs `fn` when a slot is free; undefined (without running it) when the queue is full. */
  async run<R>(fn: () => Promise<R>): Promise<{ value: R } | undefined> {
    if (this.#running >= this.concurrency) {
      if (this.#queue.length >= this.maxWaiting) return undefined
      await new Promise<void>((resolve) => this.#queue.push(resolve))
    } else {
      this.#running++
    }
    try {
      return { value: await fn() }
    } finally {
      const next = this.#queue.shift()
      if (next) next()
      else this.#running--
    }
  }
}
