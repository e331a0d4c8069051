import { randomBytes } from 'node:crypto'
import { withTimeout } from '../core/async.js'
import type { Closer } from '../core/context.js'
import { ErrorCodes, errors, RedkitError, SecretScrubber, toRedkitError } from '../core/errors.js'
import { KeySpace, validateObjectName } from '../core/keys.js'
import type { ScriptConnection } from '../core/scripts.js'
import { count, numberInRange, optionsObject, timerMs } from '../core/validate.js'
import { Hold } from './hold.js'
import type { LockKeys } from './keys.js'
import { DEFAULTS, resolveAcquire, ttlOption } from './options.js'
import { acquireScript, extendScript, releaseScript } from './scripts.js'
import type { AcquireOptions, LockHandle } from './types.js'

/** A node-redis client of one independent Redis server (anything that sends a raw command). */
export interface RedlockClient {
  sendCommand(args: string[]): Promise<unknown>
}

export interface RedlockOptions {
  /** First part of every key (`<prefix>:{redlock:<name>}:holders`). @defaultValue 'rk' */
  prefix?: string
  /** How long a hold lives on each server without being extended. @defaultValue 10_000 */
  ttlMs?: number
  /** Extend the hold (on a quorum) every ttlMs/3 while held. @defaultValue true */
  watchdog?: boolean
  /** Clock drift allowed for, as a fraction of the TTL (plus 2 ms). @defaultValue 0.01 */
  driftFactor?: number
  /** How long one server may take to answer one call before it counts as failed. @defaultValue 50 */
  serverTimeoutMs?: number
  /** Pause between two attempts, plus up to `retryJitterMs` at random. @defaultValue 50 */
  retryDelayMs?: number
  /** @defaultValue 50 */
  retryJitterMs?: number
  /**
   * After taking the hold on a server, `WAIT` for this many of its replicas (at most
   * `serverTimeoutMs`), and count the server only when they acknowledged: a failover to a
   * replica then keeps the hold. @defaultValue 0
   */
  replicas?: number
}

interface Resolved {
  ttlMs: number
  watchdog: boolean
  driftFactor: number
  serverTimeoutMs: number
  retryDelayMs: number
  retryJitterMs: number
  replicas: number
}

/** What the script handles need, over one independent server. */
type ServerLink = ScriptConnection

/**
 * Redlock over independent Redis servers (no replication between them): a hold needs a majority
 * of the servers, taken within its validity (TTL minus the time the attempt took minus the clock
 * drift), and is released on every server. Each server runs the same scripts as `rk.lock`, so each
 * hands out its own fencing tokens (at least its clock in µs); a hold's token is the largest one
 * of its majority — see docs/lock.md for what that does and does not guarantee.
 */
export class Redlock {
  readonly quorum: number
  readonly #links: ServerLink[]
  readonly #keys: KeySpace
  readonly #options: Resolved
  readonly #closers = new Set<Closer>()

  constructor(clients: readonly RedlockClient[], input?: RedlockOptions) {
    if (!Array.isArray(clients) || clients.length === 0 || clients.some((c) => typeof c?.sendCommand !== 'function'))
      throw errors.invalidArgument('clients', 'a non-empty array of node-redis clients, one per independent server')
    const options = optionsObject(input, 'redlock options')
    if (options.watchdog !== undefined && typeof options.watchdog !== 'boolean')
      throw errors.invalidArgument('watchdog', 'a boolean', options.watchdog)
    this.#options = {
      ttlMs: ttlOption(options.ttlMs ?? 10_000),
      watchdog: options.watchdog ?? true,
      driftFactor: numberInRange(options.driftFactor ?? DEFAULTS.driftFactor, 'driftFactor', 0, 0.5),
      serverTimeoutMs: timerMs(options.serverTimeoutMs ?? 50, 'serverTimeoutMs'),
      retryDelayMs: timerMs(options.retryDelayMs ?? 50, 'retryDelayMs', { allowZero: true }),
      retryJitterMs: timerMs(options.retryJitterMs ?? 50, 'retryJitterMs', { allowZero: true }),
      replicas: count(options.replicas ?? 0, 'replicas', { allowZero: true, max: 100 }),
    }
    this.#keys = new KeySpace(options.prefix ?? 'rk')
    this.quorum = Math.floor(clients.length / 2) + 1
    const scrubber = new SecretScrubber()
    this.#links = clients.map((client) => ({
      topology: 'standalone' as const,
      send: <T>(args: string[]) =>
        (client.sendCommand(args) as Promise<T>).catch((error: unknown) => {
          throw toRedkitError(error, scrubber, `redlock server: ${args[0]}`)
        }),
    }))
  }

  /** A handle on the lock `name` (one hold at a time per handle). */
  lock(name: string): RedlockLock {
    return new RedlockLock(this, validateObjectName(name, 'lock name'))
  }

  /** Ends every hold still open: its signal aborts with E_CLOSED and it is released on every server (at most 1 s). */
  async close(): Promise<void> {
    await Promise.all([...this.#closers].map((close) => close()))
  }

  /** @internal */
  get options(): Resolved {
    return this.#options
  }

  /** @internal */
  keysOf(name: string): LockKeys {
    const object = this.#keys.object(`redlock:${name}`)
    return { holders: object('holders'), queue: object('queue'), waiters: object('waiters'), channel: object('wake') }
  }

  /** @internal Runs `call` on every server, each bounded by serverTimeoutMs; failures are undefined. */
  onEvery<T>(call: (link: ServerLink) => Promise<T>): Promise<Array<T | undefined>> {
    const ms = this.#options.serverTimeoutMs
    return Promise.all(
      this.#links.map((link) =>
        withTimeout(
          () => call(link),
          ms,
          () => undefined,
        ).catch(() => undefined),
      ),
    )
  }

  /** @internal */
  track(closer: Closer): () => void {
    this.#closers.add(closer)
    return () => this.#closers.delete(closer)
  }
}

/** One handle of a Redlock lock: the same surface as `rk.lock` (no queue: waiters retry with jitter). */
export class RedlockLock implements Pick<LockHandle, 'name' | 'token' | 'held' | 'signal' | 'onLost'> {
  readonly name: string
  readonly #redlock: Redlock
  readonly #keys: LockKeys
  readonly #lostHandlers = new Set<(error: RedkitError) => void>()
  #hold: Hold | undefined
  #untrack: (() => void) | undefined

  constructor(redlock: Redlock, name: string) {
    this.#redlock = redlock
    this.name = name
    this.#keys = redlock.keysOf(name)
  }

  get token(): number | undefined {
    return this.#hold?.active ? this.#hold.fence : undefined
  }

  get held(): boolean {
    return this.#hold?.active ?? false
  }

  get signal(): AbortSignal | undefined {
    return this.#hold?.active ? this.#hold.signal : undefined
  }

  /** When the hold ends unless extended (local clock, epoch ms). */
  get validUntil(): number | undefined {
    return this.#hold?.active ? this.#hold.deadline : undefined
  }

  onLost(handler: (error: RedkitError) => void): () => void {
    this.#lostHandlers.add(handler)
    return () => this.#lostHandlers.delete(handler)
  }

  /** One attempt on every server. */
  async tryAcquire(): Promise<boolean> {
    this.#assertFree()
    return this.#attempt()
  }

  /** Retries (with jitter) until a majority grants the hold. @throws RedkitError E_LOCK_TIMEOUT */
  async acquire(options?: AcquireOptions): Promise<void> {
    const { timeoutMs, signal } = resolveAcquire(options)
    this.#assertFree()
    const deadline = Date.now() + timeoutMs
    for (;;) {
      signal?.throwIfAborted()
      if (await this.#attempt()) return
      const { retryDelayMs, retryJitterMs } = this.#redlock.options
      const pause = retryDelayMs + Math.random() * retryJitterMs
      if (Date.now() + pause >= deadline) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pause)
        signal?.addEventListener('abort', done, { once: true })
        function done() {
          clearTimeout(timer)
          signal?.removeEventListener('abort', done)
          resolve()
        }
      })
    }
    signal?.throwIfAborted()
    throw new RedkitError(ErrorCodes.E_LOCK_TIMEOUT, `redlock ${this.name} not acquired on a majority within ${timeoutMs} ms`, {
      details: { name: this.name, timeoutMs, quorum: this.#redlock.quorum },
    })
  }

  /** Releases on every server. @returns false when the hold had been lost (or was never taken). */
  async release(): Promise<boolean> {
    const hold = this.#hold
    if (!hold) return false
    this.#hold = undefined
    this.#untrack?.()
    const wasActive = hold.active
    hold.end()
    await this.#releaseEverywhere(hold.owner)
    return wasActive
  }

  /** Extends on a majority, to ttlMs from now. */
  async extend(ttlMs?: number): Promise<boolean> {
    const hold = this.#hold
    if (!hold?.active) return false
    return hold.extend(ttlMs === undefined ? this.#redlock.options.ttlMs : ttlOption(ttlMs))
  }

  async using<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    await this.acquire(options)
    const hold = this.#hold as Hold
    try {
      return await fn(hold.signal)
    } finally {
      if (this.#hold === hold) await this.release().catch(() => {})
    }
  }

  #assertFree(): void {
    if (this.#hold?.active) throw errors.invalidArgument('redlock handle', 'free (it already holds the lock; create one handle per task)')
  }

  async #attempt(): Promise<boolean> {
    const { ttlMs, replicas, serverTimeoutMs } = this.#redlock.options
    const owner = randomBytes(16).toString('hex')
    const startedAt = Date.now()
    const replies = await this.#redlock.onEvery(async (link) => {
      const [status, fence] = await acquireScript.call(link, this.#keys, [owner, ttlMs, 1, 1, 0, '1', this.#keys.channel, 'channel', ttlMs])
      if (status !== 1) return undefined
      if (replicas > 0 && Number(await link.send(['WAIT', String(replicas), String(serverTimeoutMs)])) < replicas) return undefined
      return fence
    })
    const fences = replies.filter((f): f is number => f !== undefined)
    const drift = Math.floor(ttlMs * this.#redlock.options.driftFactor) + 2
    const validity = ttlMs - (Date.now() - startedAt) - drift
    if (fences.length < this.#redlock.quorum || validity <= 0) {
      await this.#releaseEverywhere(owner)
      return false
    }
    const hold = new Hold({
      name: `redlock ${this.name}`,
      host: { onClose: (closer) => this.#redlock.track(closer) },
      owner,
      fence: Math.max(...fences),
      ttlMs,
      validForMs: ttlMs,
      grantedAfter: startedAt,
      watchdog: this.#redlock.options.watchdog,
      // The configured drift, not the default: the local deadline is the validity the acquire checked (finding 10).
      driftFactor: this.#redlock.options.driftFactor,
      extend: async (who, ms) => {
        const sentAt = Date.now()
        const done = await this.#redlock.onEvery((link) => extendScript.call(link, this.#keys, [who, ms]))
        const extended = done.filter((r) => r === 1).length
        return extended >= this.#redlock.quorum && Date.now() - sentAt < ms - drift
      },
      release: (who) => this.#releaseEverywhere(who),
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
    return true
  }

  async #releaseEverywhere(owner: string): Promise<void> {
    await this.#redlock.onEvery((link) => releaseScript.call(link, this.#keys, [owner, 1, '1', this.#keys.channel, 'channel', '-']))
  }
}

/** Redlock over independent servers: see {@link Redlock}. */
export function createRedlock(clients: readonly RedlockClient[], options?: RedlockOptions): Redlock {
  return new Redlock(clients, options)
}
