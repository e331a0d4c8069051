import { randomUUID } from 'node:crypto'
import type { RedkitContext } from '../core/context.js'
import { DurableWriter } from '../core/durability.js'
import { ErrorCodes, isRedkitError, RedkitError } from '../core/errors.js'
import { Hold } from './hold.js'
import type { LockKeys } from './keys.js'
import { LocalLocks } from './local.js'
import { DEFAULTS, marginMs, type ResolvedLockOptions, resolveAcquire, ttlOption } from './options.js'
import { race } from './race.js'
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

type Granted = { kind: 'granted'; fence: number; ttlMs: number; after: number }
type Waiting = { kind: 'waiting'; earliestMs: number }
type Woken = Granted | { kind: 'retry' }

/** Cluster and server replies that mean "ask again shortly" (slot migration, failover, loading). */
const TRANSIENT = /TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN/
/** How soon an attempt that met a transient reply is retried. */
const TRANSIENT_RETRY_MS = 100

/**
 * The engine behind every lock handle: one attempt script that takes a free lock or queues the
 * caller, one release script that hands the lock to the next live waiters, wake-ups by name on the
 * lock's channel, and a poll (at most every pollMs, or when the earliest hold lapses) so a lost
 * message only delays. A wake-up message is only a hint to ask again: the attempt script, whose
 * reply says whether the caller holds the lock and for how long, is the one that grants (a late or
 * forged message can never make a holder). Grants listed in this process's own release replies
 * come from Redis itself and are taken as they are. A handle holds at most one hold at a time.
 */
export class FairLock implements LockHandle {
  readonly name: string
  readonly #ctx: RedkitContext
  readonly #resource: Resource
  readonly #options: ResolvedLockOptions
  /** Where grants are written when `durable` is set: each write is followed by WAIT. */
  readonly #durable: DurableWriter | undefined
  readonly #lostHandlers = new Set<(error: RedkitError) => void>()
  readonly #kind: 'sharded' | 'channel'
  readonly #wakeups: Wakeups
  readonly #local: LocalLocks
  #hold: Hold | undefined
  #busy = false

  constructor(ctx: RedkitContext, name: string, resource: Resource, options: ResolvedLockOptions) {
    this.#ctx = ctx
    this.name = name
    this.#resource = resource
    this.#options = options
    this.#kind = ctx.topology === 'cluster' ? 'sharded' : 'channel'
    this.#wakeups = Wakeups.of(ctx)
    this.#local = LocalLocks.of(ctx)
    this.#durable = options.durable ? new DurableWriter(ctx.connection, options.durable) : undefined
  }

  get token(): number | undefined {
    return this.#hold?.active ? this.#hold.fence : undefined
  }

  get held(): boolean {
    return this.#hold?.active ?? false
  }

  /** The signal of the current hold: aborted when it is lost or released. */
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
      if (outcome.kind !== 'granted') return false
      if (this.#grant(token, outcome.fence, outcome.ttlMs, sentAt)) return true
      // Granted, but the reply came too late to use any of it: give it back.
      void this.#leave(token).catch(() => {})
      return false
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
    hold.end()
    this.#local.ended(this.#resource.keys.holders, hold.owner)
    const released = await this.#leave(hold.owner)
    return wasActive && released
  }

  async extend(ttlMs: number = this.#options.ttlMs): Promise<boolean> {
    ttlOption(ttlMs)
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
    const started = Date.now()
    const deadline = started + timeoutMs
    // Polls at most a third of the TTL apart, and the place in the queue lives a few polls: a
    // waiter that died is skipped (or its short handoff lapses) within a few polls, not a TTL.
    const pollEvery = Math.max(5, Math.min(this.#options.pollMs, Math.floor(this.#options.ttlMs / 3)))
    const placeMs = Math.min(Math.max(pollEvery * DEFAULTS.placePolls, 1000), 2 ** 31 - 1)
    // The time a handoff delivered here is known to have happened after.
    let lastSent = started
    let wake: ((outcome: Woken) => void) | undefined
    let pending: Woken | undefined
    const onWake = (grant: Grant) => {
      // Only a grant read from a release reply of this process is trusted; a message asks again.
      const trusted = grant.fence > 0 && grant.after !== undefined
      const outcome: Woken = trusted
        ? { kind: 'granted', fence: grant.fence, ttlMs: grant.ttlMs, after: Math.max(lastSent, grant.after ?? 0) }
        : { kind: 'retry' }
      // Held from now on as far as this process's own attempts are concerned (see LocalLocks).
      if (trusted) this.#local.held(keys.holders, grant.token, this.#resource.weight)
      if (wake) wake(outcome)
      else if (!pending || outcome.kind === 'granted') pending = outcome
    }
    let token = this.#newToken()
    let listener = this.#wakeups.listen(keys.channel, token, onWake)
    let stopped = false
    const giveUp = () => {
      if (stopped) return
      stopped = true
      listener.stop()
      this.#local.ended(keys.holders, token)
      // Leaves the queue, and releases the hold if it was handed over meanwhile.
      void this.#leave(token).catch(() => {})
    }
    // A grant that can no longer be used (its reply or delivery came after the hold's local
    // deadline) goes back, and the caller queues again under a new token, so nothing addressed to
    // the old entry can reach the new one.
    const requeue = () => {
      listener.stop()
      this.#local.ended(keys.holders, token)
      void this.#leave(token).catch(() => {})
      token = this.#newToken()
      listener = this.#wakeups.listen(keys.channel, token, onWake)
      pending = undefined
    }
    try {
      let first = true
      for (;;) {
        const sentAt = Date.now()
        let outcome: Granted | Waiting | 'timeout' | 'aborted'
        try {
          outcome = await race(this.#attempt(token, timeoutMs === 0 ? 0 : placeMs), deadline, signal)
        } catch (error) {
          if (!(error instanceof Error) || !TRANSIENT.test(error.message) || Date.now() >= deadline) throw error
          outcome = { kind: 'waiting', earliestMs: TRANSIENT_RETRY_MS }
        }
        if (outcome === 'timeout' || outcome === 'aborted') break
        if (outcome.kind === 'granted') {
          if (await this.#settle(token, outcome.fence, outcome.ttlMs, sentAt, deadline, signal)) {
            stopped = true
            listener.stop()
            return
          }
          if (signal?.aborted || Date.now() >= deadline) break
          requeue()
          continue
        }
        lastSent = sentAt
        if (first) {
          first = false
          // A handoff published before this process subscribed would be missed: check once more.
          if (!listener.wasReady) {
            const ready = await race(listener.ready, deadline, signal)
            if (ready === 'timeout' || ready === 'aborted') break
            // A grant from a release reply of this process needs no second look (Redis said so).
            if (pending?.kind !== 'granted') continue
          }
        }
        if (Date.now() >= deadline) break
        // Wait for the wake-up, or poll: at most every pollMs, and when the earliest hold lapses.
        const lapse = outcome.earliestMs >= 0 ? outcome.earliestMs + 1 : pollEvery
        const pollMs = Math.max(5, Math.min(pollEvery, lapse)) * (1 + Math.random() * 0.1)
        const got =
          pending ?? (await race(new Promise<Woken>((resolve) => (wake = resolve)), Math.min(deadline, Date.now() + pollMs), signal))
        wake = undefined
        pending = undefined
        if (got === 'aborted') break
        if (got === 'timeout') {
          if (Date.now() >= deadline) break
          continue
        }
        if (got.kind === 'granted') {
          if (await this.#settle(token, got.fence, got.ttlMs, got.after, deadline, signal, true)) {
            stopped = true
            listener.stop()
            return
          }
          if (signal?.aborted || Date.now() >= deadline) break
          requeue()
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

  /**
   * Takes a grant known to be valid `validForMs` from `after`. A handoff is short (a place's life);
   * without a watchdog nothing would renew it, so it is extended to the TTL once, here.
   */
  async #settle(
    token: string,
    fence: number,
    validForMs: number,
    after: number,
    deadline: number,
    signal: AbortSignal | undefined,
    handedOver = false,
  ): Promise<boolean> {
    const hold = this.#grant(token, fence, validForMs, after)
    if (!hold) return false
    if (this.#durable && handedOver) {
      // Another process's release wrote this grant; a write of ours through the durable writer,
      // and its WAIT, covers it (replicas apply the stream in order).
      try {
        await extendScript.call(this.#durable, this.#resource.keys, [token, this.#options.ttlMs])
      } catch (error) {
        this.#hold = undefined
        hold.end()
        this.#local.ended(this.#resource.keys.holders, hold.owner)
        await this.#leave(token).catch(() => {})
        throw error
      }
    }
    if (this.#options.watchdog || validForMs >= this.#options.ttlMs) return true
    const extended = await race(hold.extend(this.#options.ttlMs), deadline, signal)
    if (extended === true) return true
    this.#hold = undefined
    hold.end()
    this.#local.ended(this.#resource.keys.holders, hold.owner)
    return false
  }

  async #attempt(token: string, placeMs: number): Promise<Granted | Waiting> {
    const { keys, capacity } = this.#resource
    // While this process's own holds fill the lock, the attempt cannot be granted before one of
    // them is released from here: it rides inside that release (one script call for both).
    const [status, a, b] =
      placeMs > 0 && !this.#durable && this.#local.fills(keys.holders, capacity)
        ? await new Promise<[number, number, number]>((resolve, reject) =>
            this.#local.defer(keys.holders, {
              args: [token, this.#options.ttlMs, this.#resource.weight, placeMs, this.#unfair, this.#handoffTtl(placeMs)],
              resolve,
              reject,
              alone: () => {
                this.#send(token, placeMs).then(resolve, reject)
              },
            }),
          )
        : await this.#send(token, placeMs)
    return status === 1 ? { kind: 'granted', fence: a, ttlMs: b, after: 0 } : { kind: 'waiting', earliestMs: a }
  }

  get #unfair(): string {
    return this.#options.fair ? '0' : '1'
  }

  /**
   * A hold handed over lasts only a place's life until its taker renews it (a third of that in)
   * or extends it: a waiter that died with a live place stalls the lock that long, not a TTL.
   */
  #handoffTtl(placeMs: number): number {
    return Math.min(this.#options.ttlMs, placeMs)
  }

  #send(token: string, placeMs: number): Promise<[number, number, number]> {
    const { keys, weight, capacity } = this.#resource
    return acquireScript
      .call(this.#durable ?? this.#ctx.connection, keys, [
        token,
        this.#options.ttlMs,
        weight,
        capacity,
        placeMs,
        this.#unfair,
        keys.channel,
        this.#kind,
        this.#handoffTtl(placeMs),
      ])
      .catch(async (error: unknown) => {
        // Written, maybe granted, but not on enough replicas: give back whatever the script did.
        if (isRedkitError(error, ErrorCodes.E_NOT_DURABLE)) await this.#leave(token).catch(() => {})
        throw error
      })
  }

  async #leave(token: string): Promise<boolean> {
    const { keys, capacity } = this.#resource
    // Attempts waiting for this lock's next release from here ride inside it.
    const riders = this.#local.take(keys.holders)
    const args: Array<string | number> = [token, capacity, this.#unfair, keys.channel, this.#kind, this.#wakeups.prefix]
    for (const rider of riders) args.push(...rider.args)
    const sentAt = Date.now()
    let reply: Array<number | string>
    try {
      reply = await releaseScript.call(this.#ctx.connection, keys, args as Parameters<typeof releaseScript.call>[2])
    } catch (error) {
      for (const rider of riders) rider.reject(error)
      throw error
    }
    const grants = grantsOf(reply, sentAt, 1 + 3 * riders.length)
    if (grants.length > 0) this.#wakeups.deliver(keys.channel, grants)
    for (let i = 0; i < riders.length; i++) {
      const at = 1 + 3 * i
      riders[i]?.resolve([Number(reply[at]), Number(reply[at + 1]), Number(reply[at + 2])])
    }
    return reply[0] === 1
  }

  #newToken(): string {
    // randomUUID draws from a cached entropy pool: ~1 µs against ~12 µs for randomBytes(16) here.
    return this.#wakeups.prefix + randomUUID()
  }

  /**
   * The hold for a grant, or undefined when its local deadline has already passed (the grant's
   * reply came late: the server may have given the lock to someone else meanwhile).
   */
  #grant(owner: string, fence: number, validForMs: number, grantedAfter: number): Hold | undefined {
    if (grantedAfter + validForMs - marginMs(validForMs) <= Date.now()) return undefined
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
      release: (who) => this.#leave(who),
      lost: (error) => {
        this.#local.ended(keys.holders, hold.owner)
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
    this.#local.held(keys.holders, owner, this.#resource.weight, hold)
    return hold
  }
}
