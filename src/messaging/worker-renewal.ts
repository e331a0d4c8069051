import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { MessagingContext } from './context.js'
import type { QueueKeys } from './queue-keys.js'
import { extendScript } from './queue-scripts.js'
import type { Running } from './worker-start.js'

/**
 * Keeps the leases of running jobs alive: every third of the lease it renews them all with one
 * script call. A lease found gone (it expired and another delivery owns the job) aborts that job's
 * signal, and its outcome will be dropped.
 */
export class LeaseRenewal {
  readonly #ctx: MessagingContext
  readonly #keys: QueueKeys
  readonly #leaseMs: number
  readonly #entries: () => Iterable<Running<unknown>>
  readonly #report: (error: unknown) => void
  #timer: NodeJS.Timeout | undefined

  constructor(
    ctx: MessagingContext,
    keys: QueueKeys,
    leaseMs: number,
    entries: () => Iterable<Running<unknown>>,
    report: (error: unknown) => void,
  ) {
    this.#ctx = ctx
    this.#keys = keys
    this.#leaseMs = leaseMs
    this.#entries = entries
    this.#report = report
  }

  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => this.renew(), Math.max(50, Math.floor(this.#leaseMs / 3)))
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  renew(): void {
    const entries = [...this.#entries()].filter((e) => !e.lost && !e.released)
    if (entries.length === 0) return
    extendScript.call(this.#ctx.connection, this.#keys, [this.#leaseMs, ...entries.map((e) => e.member)]).then(
      (replies) => {
        for (const [i, entry] of entries.entries()) {
          if (replies[i] !== 0) continue
          entry.lost = true
          entry.job.abort(new RedkitError(ErrorCodes.E_JOB_LOST, `job ${entry.job.id}: the lease expired and the job was delivered again`))
        }
      },
      (error: unknown) => this.#report(error),
    )
  }
}
