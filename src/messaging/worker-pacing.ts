import type { ResolvedWorkerOptions } from './worker-options.js'

/** A busy worker looks for due delayed jobs at most this often (inside its normal calls). */
const PROMOTE_EVERY_MS = 5

/** The periodic passes one `queue-next` call carries besides settling and leasing. */
export interface Passes {
  promote: boolean
  recover: boolean
  trim: boolean
}

/**
 * When a worker's calls also promote due delayed jobs, recover expired leases and trim retention:
 * each pass rides on a call that goes anyway, at its own cadence, so a busy worker pays for none
 * of them per job. It also keeps the offset between this process's clock and the server's.
 */
export class CallPacer {
  readonly #o: ResolvedWorkerOptions
  #clockOffset = 0
  #lastPromote = Number.NEGATIVE_INFINITY
  #lastRecover = Number.NEGATIVE_INFINITY
  #lastTrim = 0
  #completedSinceTrim = 0
  #deadSinceTrim = 0
  /** Due time of the next delayed job as the last reply said (-1: none; -2: not told yet). */
  #nextDelayedAt = -2

  constructor(options: ResolvedWorkerOptions) {
    this.#o = options
  }

  serverNow(): number {
    return Date.now() + this.#clockOffset
  }

  /** The passes a call sent at `now` (performance.now()) carries; `force` asks for them all now. */
  plan(wanted: number, force: boolean, now: number): Passes {
    const o = this.#o
    const promote =
      wanted > 0 &&
      (force || now - this.#lastPromote >= PROMOTE_EVERY_MS || (this.#nextDelayedAt >= 0 && this.serverNow() >= this.#nextDelayedAt))
    const recover = force || now - this.#lastRecover >= Math.min(1000, o.leaseMs / 2)
    // Retention, amortised: after a tenth of the kept count has finished, or every 5 s while jobs
    // finish (always, when an age bound must be met even if nothing finishes).
    const finished = this.#completedSinceTrim + this.#deadSinceTrim
    const aged = o.completedAgeMs >= 0 || o.deadAgeMs >= 0
    const trim =
      (o.keep > 0 || aged || o.deadKeep >= 0) &&
      (finished >= Math.max(10, (o.keep > 0 ? o.keep : 1000) / 10) || ((finished > 0 || aged) && now - this.#lastTrim > 5000))
    return { promote, recover, trim }
  }

  /** A call sent at `at` with these passes got its reply. */
  replied(passes: Passes, at: number, serverNow: number, nextDelayed: number): void {
    if (passes.promote) this.#lastPromote = at
    if (passes.recover) this.#lastRecover = at
    if (passes.trim) {
      this.#lastTrim = at
      this.#completedSinceTrim = 0
      this.#deadSinceTrim = 0
    }
    this.#clockOffset = serverNow - Date.now()
    if (nextDelayed !== -2) this.#nextDelayedAt = nextDelayed
  }

  /** A job was stored as completed or dead: retention has one more to keep in bounds. */
  finished(kind: 'c' | 'd'): void {
    if (kind === 'c') this.#completedSinceTrim++
    else this.#deadSinceTrim++
  }
}
