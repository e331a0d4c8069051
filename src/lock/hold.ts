import { withTimeout } from '../core/async.js'
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
  /** Clock drift allowed for, as a fraction of the TTL (plus 2 ms). @defaultValue DEFAULTS.driftFactor */
  driftFactor?: number
  /** One extension round trip: resolves true when the server still had the hold. */
  extend(owner: string, ttlMs: number): Promise<boolean>
  /** Gives the hold back on the server when the redkit instance closes with it held. */
  release?(owner: string): Promise<unknown>
  lost(error: RedkitError): void
}

/**
 * The reason a released hold's signal aborts with: one shared error, because building an Error
 * (its stack) on every release costs more than the rest of the release's local work.
 */
const RELEASED = new RedkitError(ErrorCodes.E_LOCK_LOST, 'the hold was released')

/** How long rk.close() waits for the release of a hold it ends. */
const CLOSE_RELEASE_MS = 1_000

/**
 * One hold, from grant to release or loss: the lock's watchdog. The local deadline (the send time
 * of the last successful extension, or a time before the grant, plus the TTL, minus a drift
 * margin) ends the hold and aborts its signal whatever calls are pending, so a holder whose
 * renewals stall never believes it holds a lock the server may already have given away. The
 * deadline is also checked whenever `active` or `signal.aborted` is read, because a blocked event
 * loop runs no timer: the first look after it wakes already says "lost". Renewals never overlap,
 * and an explicit extend(ttlMs) sets the TTL later renewals use. Every end (release, loss, rk.close)
 * aborts the signal, so work still running under it learns that the lock is no longer held.
 */
export class Hold extends Component {
  readonly owner: string
  readonly fence: number
  readonly #options: HoldOptions
  /** Made when the signal is first read: most holds end before anyone looks at it. */
  #controller: AbortController | undefined
  /** Why the hold ended (what its signal aborts with), once it has. */
  #endReason: unknown
  #ttlMs: number
  #validFrom: number
  #validForMs: number
  /** One timer for both the next renewal (with a watchdog) and the local deadline, whichever is next. */
  #timer: Timer | undefined
  /** When the next renewal is due (local clock); Infinity without a watchdog or while one is in flight. */
  #renewAt = Number.POSITIVE_INFINITY
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

  /** Aborts when the hold ends (loss, release, rk.close()); already aborted if it has. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#endReason !== undefined) this.#controller.abort(this.#endReason)
      else watchedSignal(this.#controller.signal, () => this.#check())
    }
    return this.#controller.signal
  }

  /** Held as far as this process can know: not ended, and the local deadline not passed. */
  get active(): boolean {
    this.#check()
    return !this.closed
  }

  /** When the hold ends locally unless extended (local clock). */
  get deadline(): number {
    return this.#validFrom + this.#validForMs - marginMs(this.#validForMs, this.#options.driftFactor)
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
    const error = new RedkitError(ErrorCodes.E_LOCK_LOST, message, this.#lastError === undefined ? {} : { cause: this.#lastError })
    this.#abort(error)
    void this.close()
    this.#options.lost(error)
  }

  /** Ends the hold without reporting a loss (its owner released it): the signal aborts all the same. */
  end(): void {
    if (this.closed) return
    this.#abort(RELEASED)
    void this.close()
  }

  protected override async teardown(): Promise<void> {
    this.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#endReason !== undefined) return
    // rk.close() with the hold still held: tell the work under it, and give the lock back so the
    // waiters elsewhere do not wait out the TTL.
    this.#abort(new RedkitError(ErrorCodes.E_CLOSED, `${this.name}: redkit is closing, the hold is released`))
    const release = this.#options.release
    if (release)
      await withTimeout(
        () => release(this.owner),
        CLOSE_RELEASE_MS,
        () => undefined,
      ).catch(() => {})
  }

  #abort(reason: unknown): void {
    this.#endReason = reason
    this.#controller?.abort(reason)
  }

  #check(): void {
    if (!this.closed && this.clock.now() >= this.deadline) this.lose(`${this.name} expired before it could be extended`)
  }

  async #extendOnce(ttlMs: number): Promise<boolean> {
    if (!this.active) return false
    const sentAt = this.clock.now()
    const ok = await this.#options.extend(this.owner, ttlMs)
    if (!this.active) return false
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

  /** A fresh validity: the next renewal a third of it in (with a watchdog), the deadline at its end. */
  #arm(): void {
    if (this.#options.watchdog && !this.#renewing) this.#renewAt = this.#validFrom + Math.floor(this.#validForMs / 3)
    this.#schedule()
  }

  /** (Re)arms the one timer for the renewal or the deadline, whichever comes first. */
  #schedule(): void {
    if (this.closed) return
    this.clock.clearTimeout(this.#timer)
    const at = Math.min(this.#renewAt, this.deadline)
    this.#timer = this.clock.setTimeout(() => this.#due(), Math.max(0, at - this.clock.now()))
    this.#timer.unref()
  }

  #due(): void {
    this.#timer = undefined
    if (this.closed) return
    if (this.clock.now() >= this.deadline) {
      this.lose(`${this.name} expired before it could be extended`)
      return
    }
    if (this.clock.now() >= this.#renewAt) this.#renew()
    this.#schedule()
  }

  #renew(): void {
    if (this.closed || this.#renewing) return
    this.#renewing = true
    this.#renewAt = Number.POSITIVE_INFINITY
    this.extend()
      .catch((error: unknown) => {
        // A connection blip: retry soon, a tenth of what the hold is known to last (a hold handed
        // over for a place's life must get several retries in before its deadline, finding 24);
        // the deadline ends the hold if no renewal lands in time.
        this.#lastError = this.report(error, `${this.name} renewal`)
        if (this.closed) return
        const retryIn = Math.max(10, Math.floor(Math.min(this.#validForMs, this.#ttlMs) / 10))
        this.#renewAt = this.clock.now() + retryIn
      })
      .finally(() => {
        this.#renewing = false
        // A successful renewal re-armed through #arm (skipped while renewing): arm it now.
        if (!this.closed && this.#options.watchdog && this.#renewAt === Number.POSITIVE_INFINITY)
          this.#renewAt = this.#validFrom + Math.floor(this.#validForMs / 3)
        this.#schedule()
      })
  }
}

/**
 * The signal with its `aborted` and `throwIfAborted` checking the deadline first: native
 * AbortSignals only change when a timer runs, and a holder's code that just woke from a blocked
 * event loop reads them before any timer can.
 */
function watchedSignal(signal: AbortSignal, check: () => void): AbortSignal {
  const proto = Object.getPrototypeOf(signal) as AbortSignal
  const aborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get
  Object.defineProperties(signal, {
    aborted: {
      get() {
        check()
        return aborted ? aborted.call(signal) : false
      },
      configurable: true,
    },
    throwIfAborted: {
      value() {
        check()
        proto.throwIfAborted.call(signal)
      },
      configurable: true,
    },
  })
  return signal
}
