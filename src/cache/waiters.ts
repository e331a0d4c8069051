/** How a wait for another process's load ended. */
export type Outcome = { type: 'filled' | 'absent' | 'uncacheable' | 'resync' | 'timeout' } | { type: 'failed'; message: string }

interface Waiter {
  outcome: Outcome | undefined
  wake: ((outcome: Outcome) => void) | undefined
}

/**
 * Processes waiting for another process's load of a key, woken by the fill message. A waiter is
 * registered *before* the lock attempt that tells it to wait, so a fill message that arrives before
 * that reply (it travels on another connection) is kept, not lost. Single-flight means one waiter
 * per key per cache.
 */
export class Waiters {
  readonly #waiters = new Map<string, Waiter>()

  get size(): number {
    return this.#waiters.size
  }

  /** Starts listening for `key`'s outcome. */
  expect(key: string): void {
    if (!this.#waiters.has(key)) this.#waiters.set(key, { outcome: undefined, wake: undefined })
  }

  /** Stops listening for `key`. */
  cancel(key: string): void {
    this.#waiters.delete(key)
  }

  /** Records (and delivers) an outcome for `key`, if someone listens. */
  settle(key: string, outcome: Outcome): void {
    const waiter = this.#waiters.get(key)
    if (!waiter) return
    if (waiter.wake) waiter.wake(outcome)
    else waiter.outcome ??= outcome
  }

  /** Every waiter re-checks (messages may have been missed). */
  resyncAll(): void {
    for (const key of [...this.#waiters.keys()]) this.settle(key, { type: 'resync' })
  }

  /** Waits for `key`'s outcome, at most `ms`; stops listening afterwards. */
  wait(key: string, ms: number): Promise<Outcome> {
    const waiter = this.#waiters.get(key)
    if (!waiter) return Promise.resolve({ type: 'resync' })
    if (waiter.outcome) {
      this.#waiters.delete(key)
      return Promise.resolve(waiter.outcome)
    }
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => done({ type: 'timeout' }), Math.max(1, ms))
      const done = (outcome: Outcome) => {
        clearTimeout(timer)
        if (this.#waiters.get(key) === waiter) this.#waiters.delete(key)
        resolve(outcome)
      }
      waiter.wake = done
    })
  }
}
