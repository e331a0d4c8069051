/**
 * Bounds how long a command may wait for its reply, with one timer for all of them: node-redis's
 * own `timeout` only covers a command that is still queued, so a node that took the command and
 * then froze (SIGSTOP, a long pause, a half-open socket) would hold its caller until the health
 * check notices, and would answer it late, after a failover, as if nothing had happened. A timer
 * per command cost too much on the hot path (see NO_TIMEOUT); a sweep every quarter of the bound
 * costs a Set insert and delete per command and cuts each wait at 1 to 1.25 times the bound.
 */
export class InflightBound {
  readonly #boundMs: number
  readonly #entries = new Set<{ startedAt: number; expire(): void }>()
  #timer: NodeJS.Timeout | undefined

  constructor(boundMs: number) {
    this.#boundMs = boundMs
  }

  /** `promise`, or `expired()`'s error once the bound has passed without a reply. */
  run<T>(promise: Promise<T>, expired: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { startedAt: Date.now(), expire: () => reject(expired()) }
      this.#entries.add(entry)
      this.#arm()
      promise.then(
        (value) => {
          this.#entries.delete(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.#entries.delete(entry)
          reject(error)
        },
      )
    })
  }

  #arm(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => this.#sweep(), Math.max(10, Math.floor(this.#boundMs / 4)))
    this.#timer.unref()
  }

  #sweep(): void {
    const now = Date.now()
    for (const entry of this.#entries) {
      if (now - entry.startedAt < this.#boundMs) continue
      this.#entries.delete(entry)
      entry.expire()
    }
    if (this.#entries.size === 0) this.stop()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
