import { randomUUID } from 'node:crypto'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { timerMs } from '../core/validate.js'
import { Hold } from './hold.js'
import type { LockKeys } from './keys.js'
import { DEFAULTS, type ResolvedLockOptions, resolveAcquire } from './options.js'
import { acquireScript, extendScript, releaseScript } from './scripts.js'
import { warnIfEvictable } from './server-check.js'
import type { AcquireOptions, LockHandle } from './types.js'
import { Wakeups } from './wakeups.js'
import { type Grant, grantsOf } from './wire.js'

/** What a handle takes of its lock: the whole capacity (mutex, write hold) or one unit (permit, read hold). */
export interface Resource {
  readonly keys: LockKeys
  readonly capacity: number
  readonly weight: number
  /** For messages: `lock orders`, `semaphore pool`, `write lock doc`. */
  readonly describe: string
}

type Granted = { kind: 'granted'; fence: number; ttlMs: number; grantedAfter: number }
type Outcome = Granted | { kind: 'retry' }

/**
 * The engine behind every lock handle: one attempt script that takes a free lock or queues the
 * caller, one release script that hands the lock to the next live waiters, wake-ups by name on the
 * lock's channel, and a poll (at most every pollMs, or when the earliest hold lapses) so a lost
 * message only delays. A handle holds at most one hold at a time.
 */
export class FairLock implements LockHandle {
  readonly name: string
  readonly #ctx: RedkitContext
  readonly #resource: Resource
  readonly #options: ResolvedLockOptions
  readonly #lostHandlers = new Set<(error: RedkitError) => void>()
  readonly #kind: 'sharded' | 'channel'
  readonly #wakeups: Wakeups
  #hold: Hold | undefined
  #busy = false

  constructor(ctx: RedkitContext, name: string, resource: Resource, options: ResolvedLockOptions) {
    this.#ctx = ctx
    this.name = name
    this.#resource = resource
    this.#options = options
    this.#kind = ctx.topology === 'cluster' ? 'sharded' : 'channel'
    this.#wakeups = Wakeups.of(ctx)
  }

  get token(): number | undefined {
    return this.#hold?.active ? this.#hold.fence : undefined
  }

  get held(): boolean {
    return this.#hold?.active ?? false
  }

  /** The signal of the current hold: aborted when it is lost. */
  get signal(): AbortSignal | undefined {
    return this.#hold?.active ? this.#hold.signal : undefined
  }

  onLost(handler: (error: RedkitError) => void): () => void {
    this.#lostHandlers.add(handler)
    return () => this.#lostHandlers.delete(handler)
  }

  async tryAcquire(): Promise<boolean> {
    this.#enter()
    try {
      const token = this.#newToken()
      const sentAt = Date.now()
      const outcome = await this.#attempt(token, 0)
      if (outcome.kind === 'granted') this.#take(token, outcome.fence, outcome.ttlMs, sentAt)
      return outcome.kind === 'granted'
    } finally {
      this.#busy = false
    }
  }

  async acquire(options: AcquireOptions = {}): Promise<void> {
    const { timeoutMs, signal } = resolveAcquire(options)
    signal?.throwIfAborted()
    this.#enter()
    try {
      await this.#wait(timeoutMs, signal)
    } finally {
      this.#busy = false
    }
  }

  async release(): Promise<boolean> {
    const hold = this.#hold
    if (!hold) return false
    this.#hold = undefined
    const wasActive = hold.active
    void hold.close()
    const released = await this.#leave(hold.owner)
    return wasActive && released
  }

  async extend(ttlMs: number = this.#options.ttlMs): Promise<boolean> {
    timerMs(ttlMs, 'ttlMs')
    const hold = this.#hold
    if (!hold?.active) return false
    return hold.extend(ttlMs)
  }

  async using<T>(fn: (signal: AbortSignal) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    await this.acquire(options)
    const hold = this.#hold as Hold
    try {
      return await fn(hold.signal)
    } finally {
      if (this.#hold === hold) await this.release().catch(() => {})
    }
  }

  #enter(): void {
    if (this.#busy || this.#hold?.active)
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `${this.#resource.describe} is already held or being acquired by this handle (create one handle per concurrent task)`,
      )
    this.#busy = true
    this.#hold = undefined
    warnIfEvictable(this.#ctx)
  }

  async #wait(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const { keys } = this.#resource
    const token = this.#newToken()
    const started = Date.now()
    const deadline = started + timeoutMs
    // Polls at most a third of the TTL apart, so the time a handoff is known to have happened
    // after is recent enough to leave most of the hold's TTL.
    const pollEvery = Math.max(5, Math.min(this.#options.pollMs, Math.floor(this.#options.ttlMs / 3)))
    const placeMs = Math.min(Math.max(this.#options.pollMs * DEFAULTS.placePolls, 1000), 2 ** 31 - 1)
    // The grant happened after the last attempt that found the caller still waiting was sent.
    let lastSent = started
    let wake: ((outcome: Outcome) => void) | undefined
    let pending: Outcome | undefined
    const listener = this.#wakeups.listen(keys.channel, token, (grant: Grant) => {
      const outcome: Outcome =
        grant.fence > 0 ? { kind: 'granted', fence: grant.fence, ttlMs: grant.ttlMs, grantedAfter: lastSent } : { kind: 'retry' }
      if (wake) wake(outcome)
      else if (!pending || outcome.kind === 'granted') pending = outcome
    })
    let stopped = false
    const giveUp = () => {
      if (stopped) return
      stopped = true
      listener.stop()
      // Leaves the queue, and releases the hold if it was handed over meanwhile.
      void this.#leave(token).catch(() => {})
    }
    try {
      let first = true
      for (;;) {
        const sentAt = Date.now()
        const attempt = this.#attempt(token, timeoutMs === 0 ? 0 : placeMs)
        const outcome = await race(attempt, deadline, signal)
        if (outcome === 'timeout' || outcome === 'aborted') break
        if (outcome.kind === 'granted') {
          stopped = true
          listener.stop()
          this.#take(token, outcome.fence, outcome.ttlMs, sentAt)
          return
        }
        lastSent = sentAt
        if (first) {
          first = false
          // A handoff published before this process subscribed would be missed: check once more.
          if (!listener.wasReady) {
            const ready = await race(
              listener.ready.then(() => ({ kind: 'retry' }) as Outcome),
              deadline,
              signal,
            )
            if (ready === 'timeout' || ready === 'aborted') break
            continue
          }
        }
        if (Date.now() >= deadline) break
        // Wait for the wake-up, or poll: at most every pollMs, and when the earliest hold lapses.
        const lapse = outcome.earliestMs >= 0 ? outcome.earliestMs + 1 : pollEvery
        const pollMs = Math.max(5, Math.min(pollEvery, lapse)) * (1 + Math.random() * 0.1)
        const got =
          pending ?? (await race(new Promise<Outcome>((resolve) => (wake = resolve)), Math.min(deadline, Date.now() + pollMs), signal))
        wake = undefined
        pending = undefined
        if (got === 'aborted') break
        if (got === 'timeout') {
          if (Date.now() >= deadline) break
          continue
        }
        if (got.kind === 'granted') {
          // A late wake-up (a paused process, a slow message) leaves little of the TTL that is
          // known to remain: confirm the hold before handing it over. If it lapsed, queue again.
          const stale = Date.now() - got.grantedAfter > got.ttlMs / 3
          const hold = this.#take(token, got.fence, got.ttlMs, got.grantedAfter)
          if (stale) this.#hold = undefined
          if (!stale || (await hold.extend())) {
            this.#hold = hold
            stopped = true
            listener.stop()
            return
          }
        }
      }
    } catch (error) {
      giveUp()
      throw error
    }
    giveUp()
    if (signal?.aborted) throw signal.reason
    throw new RedkitError(ErrorCodes.E_LOCK_TIMEOUT, `${this.#resource.describe} not acquired within ${timeoutMs} ms`, {
      details: { name: this.name, timeoutMs },
    })
  }

  async #attempt(token: string, placeMs: number): Promise<Granted | { kind: 'waiting'; earliestMs: number }> {
    const { keys, weight, capacity } = this.#resource
    const [status, a, b] = await acquireScript.call(this.#ctx.connection, keys, [
      token,
      this.#options.ttlMs,
      weight,
      capacity,
      placeMs,
      this.#options.fair ? '0' : '1',
      keys.channel,
      this.#kind,
      // With a watchdog, a hold handed over lasts only a place's life until its first renewal
      // (a third of that in): a waiter that died with a live place stalls the lock that long, not a whole TTL.
      this.#options.watchdog ? Math.min(this.#options.ttlMs, placeMs) : this.#options.ttlMs,
    ])
    return status === 1 ? { kind: 'granted', fence: a, ttlMs: b, grantedAfter: 0 } : { kind: 'waiting', earliestMs: a }
  }

  async #leave(token: string): Promise<boolean> {
    const { keys, capacity } = this.#resource
    const reply = await releaseScript.call(this.#ctx.connection, keys, [
      token,
      capacity,
      this.#options.fair ? '0' : '1',
      keys.channel,
      this.#kind,
      this.#wakeups.prefix,
    ])
    const grants = grantsOf(reply)
    if (grants.length > 0) this.#wakeups.deliver(keys.channel, grants)
    return reply[0] === 1
  }

  #newToken(): string {
    // randomUUID draws from a cached entropy pool: ~1 µs against ~12 µs for randomBytes(16) here.
    return this.#wakeups.prefix + randomUUID()
  }

  #take(owner: string, fence: number, validForMs: number, grantedAfter: number): Hold {
    const { keys } = this.#resource
    const hold = new Hold({
      name: this.#resource.describe,
      host: this.#ctx,
      owner,
      fence,
      ttlMs: this.#options.ttlMs,
      validForMs,
      grantedAfter,
      watchdog: this.#options.watchdog,
      extend: async (who, ms) => (await extendScript.call(this.#ctx.connection, keys, [who, ms])) === 1,
      lost: (error) => {
        if (this.#hold !== hold) return
        for (const handler of this.#lostHandlers) {
          try {
            handler(error)
          } catch {
            // a handler's failure must not stop the others
          }
        }
      },
    })
    this.#hold = hold
    return hold
  }
}

/** Resolves the promise's value, or 'timeout' at `until` (epoch ms), or 'aborted'. */
function race<T>(promise: Promise<T>, until: number, signal: AbortSignal | undefined): Promise<T | 'timeout' | 'aborted'> {
  if (signal?.aborted) {
    promise.catch(() => {})
    return Promise.resolve('aborted')
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish('timeout'), Math.max(0, until - Date.now()))
    const onAbort = () => finish('aborted')
    signal?.addEventListener('abort', onAbort, { once: true })
    function finish(value: T | 'timeout' | 'aborted', error?: unknown) {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (error !== undefined) reject(error)
      else resolve(value)
    }
    promise.then(
      (value) => finish(value),
      (error: unknown) => finish(undefined as never, error ?? new Error('attempt failed')),
    )
  })
}
