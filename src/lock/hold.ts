import type { Clock, Timer } from '../core/clock.js'
import { Component, type ComponentHost } from '../core/component.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { marginMs } from './options.js'

export interface HoldOptions {
  /** Names the hold in errors: `lock orders`. */
  name: string
  host: ComponentHost
  clock?: Clock
  /** The random owner token the server knows the hold by. */
  owner: string
  fence: number
  /** The TTL renewals ask for. */
  ttlMs: number
  /** How long the hold is known to last from `grantedAfter` (the TTL, or what was left of it). */
  validForMs: number
  /** A time (local clock) no later than the moment the server granted the hold. */
  grantedAfter: number
  watchdog: boolean
  /** One extension round trip: resolves true when the server still had the hold. */
  extend(owner: string, ttlMs: number): Promise<boolean>
  lost(error: RedkitError): void
}

/**
 * One hold, from grant to release or loss: the lock's watchdog. The local deadline (the send time
 * of the last successful extension, or a time before the grant, plus the TTL, minus a drift
 * margin) ends the hold and aborts its signal whatever calls are pending, so a holder whose
 * renewals stall never believes it holds a lock the server may already have given away. Renewals
 * never overlap, and an explicit extend(ttlMs) sets the TTL later renewals use.
 */
export class Hold extends Component {
  readonly owner: string
  readonly fence: number
  readonly #controller = new AbortController()
  readonly #options: HoldOptions
  #ttlMs: number
  #validFrom: number
  #validForMs: number
  #deadlineTimer: Timer | undefined
  #renewTimer: Timer | undefined
  #chain: Promise<unknown> = Promise.resolve()
  #renewing = false
  #lastError: unknown

  constructor(options: HoldOptions) {
    super({ name: options.name, host: options.host, ...(options.clock ? { clock: options.clock } : {}) })
    this.#options = options
    this.owner = options.owner
    this.fence = options.fence
    this.#ttlMs = options.ttlMs
    this.#validFrom = options.grantedAfter
    this.#validForMs = options.validForMs
    this.#arm()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get active(): boolean {
    return !this.closed
  }

  /** When the hold ends locally unless extended (local clock). */
  get deadline(): number {
    return this.#validFrom + this.#validForMs - marginMs(this.#validForMs)
  }

  /** Extends to ttlMs from now, after any renewal in flight. */
  extend(ttlMs = this.#ttlMs): Promise<boolean> {
    const next = this.#chain.then(() => this.#extendOnce(ttlMs))
    this.#chain = next.catch(() => {})
    return next
  }

  /** Ends the hold and reports it lost. */
  lose(message: string): void {
    if (this.closed) return
    void this.close()
    const error = new RedkitError(ErrorCodes.E_LOCK_LOST, message, this.#lastError === undefined ? {} : { cause: this.#lastError })
    this.#controller.abort(error)
    this.#options.lost(error)
  }

  protected override teardown(): void {
    this.clock.clearTimeout(this.#deadlineTimer)
    this.clock.clearTimeout(this.#renewTimer)
  }

  async #extendOnce(ttlMs: number): Promise<boolean> {
    if (this.closed) return false
    const sentAt = this.clock.now()
    const ok = await this.#options.extend(this.owner, ttlMs)
    if (this.closed) return false
    if (!ok) {
      this.lose(`${this.name} was lost (expired or taken by another holder)`)
      return false
    }
    this.#ttlMs = ttlMs
    this.#validFrom = sentAt
    this.#validForMs = ttlMs
    this.#arm()
    return true
  }

  #arm(): void {
    this.clock.clearTimeout(this.#deadlineTimer)
    const left = Math.max(0, this.deadline - this.clock.now())
    this.#deadlineTimer = this.clock.setTimeout(() => this.lose(`${this.name} expired before it could be extended`), left)
    this.#deadlineTimer.unref()
    if (this.#options.watchdog) this.#scheduleRenewal(Math.floor(this.#validForMs / 3))
  }

  #scheduleRenewal(afterMs: number): void {
    this.clock.clearTimeout(this.#renewTimer)
    const due = Math.max(0, this.#validFrom + afterMs - this.clock.now())
    this.#renewTimer = this.clock.setTimeout(() => this.#renew(), due)
    this.#renewTimer.unref()
  }

  #renew(): void {
    if (this.closed || this.#renewing) return
    this.#renewing = true
    this.extend()
      .catch((error: unknown) => {
        // A connection blip: retry soon; the deadline timer ends the hold if no renewal lands in time.
        this.#lastError = this.report(error, `${this.name} renewal`)
        if (!this.closed) this.#scheduleRenewal(this.clock.now() - this.#validFrom + Math.max(10, Math.floor(this.#ttlMs / 10)))
      })
      .finally(() => {
        this.#renewing = false
      })
  }
}
