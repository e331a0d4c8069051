import type { DurableOptions } from '../core/durability.js'
import type { RedkitError } from '../core/errors.js'

export interface LockOptions {
  /** How long a hold lives without being extended (a crashed holder frees the lock after this), 1 ms to 2^31-1 ms. @defaultValue 30_000 */
  ttlMs?: number
  /** Extend the hold every ttlMs/3 while it is held. @defaultValue true */
  watchdog?: boolean
  /**
   * `true`: waiters are served first in, first out, and release hands the lock straight to the next
   * live waiter. `false`: a free lock goes to whoever asks first (release only wakes the head
   * waiter), which lets a process re-take a lock it just released at the cost of fairness.
   * @defaultValue true
   */
  fair?: boolean
  /**
   * A waiter re-checks this often even when no wake-up message arrives (a lost message only delays
   * it), and its place in the queue lapses 3 polls after its process stops asking.
   * @defaultValue 1_000
   */
  pollMs?: number
  /**
   * Acquisition resolves only once this many replicas have the hold (Redis `WAIT`), so a failover
   * right after cannot hand the lock to a second holder; otherwise it fails with E_NOT_DURABLE and
   * the hold is given back. Costs a round trip to the replicas per acquisition.
   */
  durable?: DurableOptions
}

export interface AcquireOptions {
  /** Give up after this long with E_LOCK_TIMEOUT (0: a single attempt). @defaultValue 10_000 */
  timeoutMs?: number
  /** Abort the wait: acquire rejects with the signal's reason and leaves the queue. */
  signal?: AbortSignal
}

export interface SemaphoreOptions extends LockOptions {
  /** How many holders at once, 1 to 1,000 (MAX_HOLDERS: every script reads every holder). Every user of one semaphore must give the same number. */
  permits: number
}

/** What every hold handle offers (mutex, semaphore permit, read or write hold). */
export interface LockHandle {
  readonly name: string
  /** The fencing token of the current hold (undefined when not held): strictly increasing per lock. */
  readonly token: number | undefined
  readonly held: boolean
  /** The current hold's signal, aborted when the hold is lost (undefined when not held). */
  readonly signal: AbortSignal | undefined
  /** Called when a hold is lost (expired or taken over) before release(). Returns the unsubscribe. */
  onLost(handler: (error: RedkitError) => void): () => void
  /** One attempt, one round trip; never queues. */
  tryAcquire(): Promise<boolean>
  /** @throws RedkitError E_LOCK_TIMEOUT after timeoutMs; the signal's reason when aborted. */
  acquire(options?: AcquireOptions): Promise<void>
  /** @returns false when the hold had already been lost (or was never taken). */
  release(): Promise<boolean>
  /** Extends the hold to ttlMs from now; later watchdog renewals keep that ttl. */
  extend(ttlMs?: number): Promise<boolean>
  /** Runs fn while holding; `signal` aborts when the hold is lost. Always releases. */
  using<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: AcquireOptions): Promise<T>
}
