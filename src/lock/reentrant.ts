import { AsyncLocalStorage } from 'node:async_hooks'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { FairLock } from './fair-lock.js'
import { Lock } from './mutex.js'
import type { AcquireOptions, LockOptions } from './types.js'

/**
 * A mutex its owner may take again while holding it, with a hold count: the lock is released when
 * every acquire has been matched by a release. The owner is the handle for `acquire`/`release`,
 * and the async context for `using` — a nested `using` in the same call chain re-enters, while a
 * concurrent one from another chain waits its turn like any other holder.
 */
export class ReentrantLock {
  readonly name: string
  readonly #ctx: RedkitContext
  readonly #options: LockOptions
  readonly #inner: Lock
  readonly #context = new AsyncLocalStorage<FairLock>()
  #count = 0

  constructor(ctx: RedkitContext, name: string, options: LockOptions = {}) {
    this.#ctx = ctx
    this.name = name
    this.#options = options
    this.#inner = new Lock(ctx, name, options)
  }

  /** How many times the handle holds the lock (0: not held). */
  get holdCount(): number {
    return this.#inner.held ? this.#count : 0
  }

  get token(): number | undefined {
    return this.#inner.token
  }

  get held(): boolean {
    return this.#inner.held
  }

  onLost(handler: (error: RedkitError) => void): () => void {
    return this.#inner.onLost(handler)
  }

  /** Takes the lock, or counts one more hold when the handle already has it (no round trip). */
  async acquire(options?: AcquireOptions): Promise<void> {
    if (this.#inner.held) {
      this.#count++
      return
    }
    await this.#inner.acquire(options)
    this.#count = 1
  }

  async tryAcquire(): Promise<boolean> {
    if (this.#inner.held) {
      this.#count++
      return true
    }
    const ok = await this.#inner.tryAcquire()
    if (ok) this.#count = 1
    return ok
  }

  /** Drops one hold; the last one releases the lock. @returns false when the handle did not hold it. */
  async release(): Promise<boolean> {
    if (!this.#inner.held || this.#count === 0) {
      this.#count = 0
      return this.#inner.release()
    }
    this.#count--
    if (this.#count > 0) return true
    return this.#inner.release()
  }

  extend(ttlMs?: number): Promise<boolean> {
    return this.#inner.extend(ttlMs)
  }

  /** Runs fn holding the lock; re-enters when the current async context already holds it. */
  async using<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    const current = this.#context.getStore()
    if (current?.held) return fn(current.signal as AbortSignal)
    if (current) throw new RedkitError(ErrorCodes.E_LOCK_LOST, `reentrant lock ${this.name} was lost by this async context`)
    const hold = new Lock(this.#ctx, this.name, this.#options)
    return hold.using((signal) => this.#context.run(hold, () => fn(signal)), options)
  }
}
