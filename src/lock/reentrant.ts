import { AsyncLocalStorage } from 'node:async_hooks'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { Lock } from './mutex.js'
import type { AcquireOptions, LockOptions } from './types.js'

/** One async context's hold: how many `using` calls of that context are still running under it. */
interface Entry {
  readonly lock: Lock
  count: number
  /** Released once its last `using` ended: work started inside it that runs later acquires anew. */
  ended: boolean
}

/**
 * A mutex its owner may take again while holding it, with a hold count: the lock is released when
 * every acquire has been matched by a release. The owner is the handle for `acquire`/`release`,
 * and the async context for `using` — a nested `using` in the same call chain re-enters, while a
 * concurrent one from another chain waits its turn like any other holder. The last `using` of a
 * context to end releases, so a nested one that outlives the outer keeps the lock until it ends;
 * a `using` while the handle holds the lock through `acquire` re-enters that hold.
 */
export class ReentrantLock {
  readonly name: string
  readonly #ctx: RedkitContext
  readonly #options: LockOptions
  readonly #inner: Lock
  readonly #context = new AsyncLocalStorage<Entry>()
  #count = 0
  #acquiring: Promise<void> | undefined

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

  /**
   * Takes the lock, or counts one more hold when the handle already has it (no round trip). Two
   * concurrent calls on the handle are the same owner: the second waits for the first and counts.
   */
  async acquire(options?: AcquireOptions): Promise<void> {
    if (this.#inner.held) {
      this.#count++
      return
    }
    if (this.#acquiring) {
      const ok = await this.#acquiring.then(
        () => true,
        () => false,
      )
      return ok && this.#inner.held ? void this.#count++ : this.acquire(options)
    }
    const acquiring = this.#inner.acquire(options).then(() => {
      this.#count = 1
    })
    this.#acquiring = acquiring
    try {
      await acquiring
    } finally {
      if (this.#acquiring === acquiring) this.#acquiring = undefined
    }
  }

  async tryAcquire(): Promise<boolean> {
    if (this.#inner.held) {
      this.#count++
      return true
    }
    if (this.#acquiring) return false
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

  /** Runs fn holding the lock; re-enters when the current async context (or the handle) already holds it. */
  async using<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    const current = this.#context.getStore()
    if (current && !current.ended) {
      if (!current.lock.held) throw new RedkitError(ErrorCodes.E_LOCK_LOST, `reentrant lock ${this.name} was lost by this async context`)
      return this.#run(current, fn)
    }
    if (this.#inner.held && this.#count > 0) {
      this.#count++
      try {
        return await fn(this.#inner.signal as AbortSignal)
      } finally {
        await this.release().catch(() => {})
      }
    }
    const lock = new Lock(this.#ctx, this.name, this.#options)
    await lock.acquire(options)
    const entry: Entry = { lock, count: 0, ended: false }
    return this.#context.run(entry, () => this.#run(entry, fn))
  }

  async #run<T>(entry: Entry, fn: (signal: AbortSignal) => Promise<T> | T): Promise<T> {
    entry.count++
    try {
      return await fn(entry.lock.signal ?? AbortSignal.abort(lostError(this.name)))
    } finally {
      entry.count--
      if (entry.count === 0) {
        entry.ended = true
        await entry.lock.release().catch(() => {})
      }
    }
  }
}

function lostError(name: string): RedkitError {
  return new RedkitError(ErrorCodes.E_LOCK_LOST, `reentrant lock ${name} was lost`)
}
