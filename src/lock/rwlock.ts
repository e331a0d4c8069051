import type { RedkitContext } from '../core/context.js'
import { errors } from '../core/errors.js'
import { FairLock } from './fair-lock.js'
import { type LockKeys, lockKeys } from './keys.js'
import { type ResolvedLockOptions, resolveLockOptions } from './options.js'
import type { AcquireOptions, LockHandle, LockOptions } from './types.js'

/**
 * Readers share the lock; a writer takes all of it. Larger than MAX_HOLDERS, the bound on concurrent
 * readers the scripts apply (more wait their turn).
 */
const CAPACITY = 2 ** 31 - 1

/**
 * A read-write lock: any number of readers or one writer. Waiters are served in arrival order, the
 * readers at the head of the queue together, so a waiting writer stops new readers from overtaking
 * it (writer preference, no writer starvation) and readers behind it go in right after it.
 */
export class ReadWriteLock {
  readonly name: string
  readonly #ctx: RedkitContext
  readonly #keys: LockKeys
  readonly #options: ResolvedLockOptions

  constructor(ctx: RedkitContext, name: string, options: LockOptions = {}) {
    this.#ctx = ctx
    this.name = name
    this.#keys = lockKeys(ctx, 'rw', name, 'read-write lock name')
    this.#options = resolveLockOptions(options)
    // Unfair readers take a shared hold whenever no writer holds, so overlapping readers would
    // keep a queued writer out for ever (finding 18): the writer preference needs the queue.
    if (!this.#options.fair)
      throw errors.invalidArgument('fair', 'true for a read-write lock (unfair readers would starve a waiting writer)', false)
  }

  /** A handle for one read hold. */
  reader(): LockHandle {
    return new FairLock(
      this.#ctx,
      this.name,
      { keys: this.#keys, capacity: CAPACITY, weight: 1, describe: `read lock ${this.name}` },
      this.#options,
    )
  }

  /** A handle for one write hold. */
  writer(): LockHandle {
    return new FairLock(
      this.#ctx,
      this.name,
      { keys: this.#keys, capacity: CAPACITY, weight: CAPACITY, describe: `write lock ${this.name}` },
      this.#options,
    )
  }

  /** Runs fn under a read hold. */
  read<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    return this.reader().using(fn, options)
  }

  /** Runs fn under the write hold. */
  write<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    return this.writer().using(fn, options)
  }
}
