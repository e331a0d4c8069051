import { ErrorCodes, RedkitError } from '../core/errors.js'
import { marginMs } from './options.js'

export interface HoldOptions {
  /** The random owner token the server knows the hold by. */
  owner: string
  fence: number
  ttlMs: number
  /** A time (local clock) no later than the moment the server granted the hold. */
  grantedAfter: number
  watchdog: boolean
  /** One extension round trip: resolves true when the server still had the hold. */
  extend(owner: string, ttlMs: number): Promise<boolean>
  lost(error: RedkitError): void
  describe: string
  now?: () => number
}

/**
 * One hold, from grant to release or loss. The local deadline (the send time of the last
 * successful extension, or a time before the grant, plus the TTL, minus a drift margin) ends the
 * hold and aborts its signal whatever calls are pending, so a holder whose renewals stall never
 * believes it holds a lock the server already gave away. Renewals never overlap, and an explicit
 * extend(ttlMs) sets the TTL later renewals use.
 */
export class Hold {
  readonly owner: string
  readonly fence: number
  readonly #controller = new AbortController()
  readonly #options: HoldOptions
  readonly #now: () => number
  #ttlMs: number
  #validFrom: number
  #deadlineTimer: NodeJS.Timeout | undefined
  #renewTimer: NodeJS.Timeout | undefined
  #chain: Promise<unknown> = Promise.resolve()
  #renewing = false
  #ended = false

  constructor(options: HoldOptions) {
    this.#options = options
    this.owner = options.owner
    this.fence = options.fence
    this.#ttlMs = options.ttlMs
    this.#validFrom = options.grantedAfter
    this.#now = options.now ?? Date.now
    this.#arm()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get active(): boolean {
    return !this.#ended
  }

  /** When the hold ends locally unless extended (local clock). */
  get deadline(): number {
    return this.#validFrom + this.#ttlMs - marginMs(this.#ttlMs)
  }

  /** Extends to ttlMs from now, after any renewal in flight. */
  extend(ttlMs = this.#ttlMs): Promise<boolean> {
    const next = this.#chain.then(() => this.#extendOnce(ttlMs))
    this.#chain = next.catch(() => {})
    return next
  }

  /** Ends the hold locally (release). */
  end(): void {
    this.#ended = true
    clearTimeout(this.#deadlineTimer)
    clearTimeout(this.#renewTimer)
  }

  /** Ends the hold and reports it lost. */
  lose(message: string, cause?: unknown): void {
    if (this.#ended) return
    this.end()
    const error = new RedkitError(ErrorCodes.E_LOCK_LOST, message, cause === undefined ? {} : { cause })
    this.#controller.abort(error)
    this.#options.lost(error)
  }

  async #extendOnce(ttlMs: number): Promise<boolean> {
    if (this.#ended) return false
    const sentAt = this.#now()
    const ok = await this.#options.extend(this.owner, ttlMs)
    if (this.#ended) return false
    if (!ok) {
      this.lose(`${this.#options.describe} was lost (expired or taken by another holder)`)
      return false
    }
    this.#ttlMs = ttlMs
    this.#validFrom = sentAt
    this.#arm()
    return true
  }

  #arm(): void {
    clearTimeout(this.#deadlineTimer)
    const left = this.deadline - this.#now()
    this.#deadlineTimer = setTimeout(() => this.lose(`${this.#options.describe} expired before it could be extended`), Math.max(0, left))
    this.#deadlineTimer.unref()
    if (this.#options.watchdog) this.#scheduleRenewal(Math.floor(this.#ttlMs / 3))
  }

  #scheduleRenewal(afterMs: number): void {
    clearTimeout(this.#renewTimer)
    const due = Math.max(0, this.#validFrom + afterMs - this.#now())
    this.#renewTimer = setTimeout(() => this.#renew(), due)
    this.#renewTimer.unref()
  }

  #renew(): void {
    if (this.#ended || this.#renewing) return
    this.#renewing = true
    this.extend()
      .catch(() => {
        // A connection blip: retry soon; the deadline timer ends the hold if no renewal lands in time.
        if (!this.#ended) this.#scheduleRenewal(this.#now() - this.#validFrom + Math.max(10, Math.floor(this.#ttlMs / 10)))
      })
      .finally(() => {
        this.#renewing = false
      })
  }
}
