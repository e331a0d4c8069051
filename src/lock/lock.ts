import { randomBytes } from 'node:crypto'
import { validateMs } from '../core/backoff.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'

const acquireScript = defineScript<[owner: string, fence: string], [token: string, ttlMs: number], number>('lock-acquire')
const releaseScript = defineScript<[owner: string, channel: string], [token: string, kind: string], number>('lock-release')
const extendScript = defineScript<[owner: string], [token: string, ttlMs: number], number>('lock-extend')

export interface LockOptions {
  /** How long the lock lives without being extended (a crashed holder frees it after this). @defaultValue 30_000 */
  ttlMs?: number
  /** Extend the lock every ttlMs/3 while held. @defaultValue true */
  watchdog?: boolean
}

export interface AcquireOptions {
  /** Give up after this long with E_LOCK_TIMEOUT. @defaultValue 10_000 */
  timeoutMs?: number
  /** Abort the wait. */
  signal?: AbortSignal
}

/**
 * A mutex: one holder at a time across every process, identified by a random owner token, with a
 * fencing token (strictly increasing per lock name) to hand to the resource it protects, and a
 * watchdog that keeps extending it while held. Waiters are woken by a message when it is released,
 * and otherwise retry when the holder's TTL runs out.
 */
export class Lock {
  readonly name: string
  readonly #rk: RedkitContext
  readonly #owner: string
  readonly #fence: string
  readonly #channel: string
  readonly #ttlMs: number
  readonly #watchdog: boolean
  readonly #lostHandlers = new Set<(error: RedkitError) => void>()
  #ownerToken: string | undefined
  #fencingToken: number | undefined
  #timer: NodeJS.Timeout | undefined
  #lastExtended = 0
  #lost: AbortController | undefined

  constructor(rk: RedkitContext, name: string, options: LockOptions = {}) {
    this.#rk = rk
    this.name = validateObjectName(name, 'lock name')
    const keys = rk.keys.object(`lock:${this.name}`)
    this.#owner = keys('owner')
    this.#fence = keys('fence')
    this.#channel = keys('released')
    this.#ttlMs = validateMs(options.ttlMs ?? 30_000, 'ttlMs')
    this.#watchdog = options.watchdog ?? true
  }

  /** The fencing token of the current hold (undefined when not held). */
  get token(): number | undefined {
    return this.#fencingToken
  }

  get held(): boolean {
    return this.#ownerToken !== undefined
  }

  /** Called when a hold is lost (expired or taken over) before release(). Returns the unsubscribe. */
  onLost(handler: (error: RedkitError) => void): () => void {
    this.#lostHandlers.add(handler)
    return () => this.#lostHandlers.delete(handler)
  }

  /** One attempt, one round trip. */
  async tryAcquire(): Promise<boolean> {
    return (await this.#attempt()) > 0
  }

  /**
   * Waits until the lock is free (woken by the holder's release, or when its TTL runs out).
   * @throws RedkitError E_LOCK_TIMEOUT after timeoutMs; the signal's reason when aborted.
   */
  async acquire(options: AcquireOptions = {}): Promise<void> {
    const timeoutMs = validateMs(options.timeoutMs ?? 10_000, 'timeoutMs', { allowZero: true })
    const { signal } = options
    signal?.throwIfAborted()
    if ((await this.#attempt()) > 0) return
    const deadline = Date.now() + timeoutMs
    let wake: (() => void) | undefined
    // Subscribe before the next attempt, so a release between the two is not missed.
    const unsubscribe = await this.#rk.connection.pubsub.subscribe(this.#rk.topology === 'cluster' ? 'sharded' : 'channel', this.#channel, {
      message: () => wake?.(),
      resync: () => wake?.(),
    })
    try {
      for (;;) {
        const result = await this.#attempt()
        if (result > 0) return
        const left = deadline - Date.now()
        if (left <= 0) throw new RedkitError(ErrorCodes.E_LOCK_TIMEOUT, `lock ${this.name} not acquired within ${timeoutMs} ms`)
        // The holder's TTL bounds the wait even if its release message is lost.
        const waitMs = Math.min(left, Math.max(1, -result))
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(done, waitMs)
          const onAbort = () => {
            clearTimeout(timer)
            reject(signal?.reason)
          }
          function done() {
            clearTimeout(timer)
            signal?.removeEventListener('abort', onAbort)
            resolve()
          }
          wake = done
          signal?.addEventListener('abort', onAbort, { once: true })
        })
      }
    } finally {
      wake = undefined
      await unsubscribe()
    }
  }

  /** Releases the hold. @returns false when it had already been lost. */
  async release(): Promise<boolean> {
    const token = this.#ownerToken
    if (token === undefined) return false
    this.#clear()
    const kind = this.#rk.topology === 'cluster' ? 'sharded' : 'channel'
    return (await releaseScript.run(this.#rk.connection, [this.#owner, this.#channel], [token, kind])) === 1
  }

  /** Extends the hold to ttlMs from now. @returns false (and reports the loss) when it was no longer held. */
  async extend(ttlMs = this.#ttlMs): Promise<boolean> {
    validateMs(ttlMs, 'ttlMs')
    const token = this.#ownerToken
    if (token === undefined) return false
    const ok = (await extendScript.run(this.#rk.connection, [this.#owner], [token, ttlMs])) === 1
    if (ok) this.#lastExtended = Date.now()
    else if (this.#ownerToken === token) this.#loseHold(`lock ${this.name} was lost (expired or taken by another holder)`)
    return ok
  }

  /** Runs fn while holding the lock; `signal` aborts if the hold is lost. Always releases. */
  async using<T>(fn: (signal: AbortSignal) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    await this.acquire(options)
    const lost = this.#lost as AbortController
    try {
      return await fn(lost.signal)
    } finally {
      await this.release().catch(() => {})
    }
  }

  async #attempt(): Promise<number> {
    if (this.#ownerToken !== undefined)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `lock ${this.name} is already held by this Lock (it is not reentrant)`)
    const token = randomBytes(16).toString('hex')
    const result = await acquireScript.run(this.#rk.connection, [this.#owner, this.#fence], [token, this.#ttlMs])
    if (result > 0) {
      this.#ownerToken = token
      this.#fencingToken = result
      this.#lastExtended = Date.now()
      this.#lost = new AbortController()
      if (this.#watchdog) {
        this.#timer = setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.#ttlMs / 3)))
        this.#timer.unref()
      }
    }
    return result
  }

  async #renew(): Promise<void> {
    try {
      await this.extend()
    } catch {
      // A connection blip: try again next tick, unless the hold has certainly expired by now.
      if (this.#ownerToken !== undefined && Date.now() - this.#lastExtended >= this.#ttlMs) {
        this.#loseHold(`lock ${this.name} could not be extended before its TTL ran out`)
      }
    }
  }

  #loseHold(message: string): void {
    const lost = this.#lost
    this.#clear()
    const error = new RedkitError(ErrorCodes.E_LOCK_LOST, message)
    lost?.abort(error)
    for (const handler of this.#lostHandlers) handler(error)
  }

  #clear(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#ownerToken = undefined
    this.#fencingToken = undefined
    this.#lost = undefined
  }
}
