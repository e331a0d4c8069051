import type { RedkitContext } from '../core/context.js'
import type { Hold } from './hold.js'

/** How long an attempt on a lock this process fills may wait for that lock's next command here. */
export const COALESCE_MS = 5

/** An attempt waiting to ride with the lock's next release from this process. */
export interface Rider {
  /** lock-release's six values for it: token, ttlMs, weight, placeMs, unfair, handoffTtlMs. */
  readonly args: readonly (string | number)[]
  /** Settles it with its lock-acquire reply, or the error of the call it rode in. */
  resolve(reply: [number, number, number]): void
  reject(error: unknown): void
  /** Sends it on its own (no release came within COALESCE_MS). */
  alone(): void
}

interface LockState {
  /**
   * Holds of this process on the lock by owner token: a grant read from a release reply counts at
   * once (its waiter takes it a few promise hops later), then its Hold; ended ones are dropped
   * when next counted.
   */
  readonly holds: Map<string, { weight: number; hold: Hold | undefined }>
  /** Attempts waiting to go out with the lock's next release from this process. */
  queued: Rider[]
  timer: NodeJS.Timeout | undefined
}

const registry = new WeakMap<RedkitContext, LocalLocks>()
const NONE: readonly Rider[] = []

/**
 * What this process knows of its own holds, per lock, and the attempts that ride along with the
 * lock's next command. An attempt on a lock that this process's holds fill completely cannot be
 * granted before one of those holds ends, and that end is a release sent from here: the attempt
 * is sent right before it, in the same write (one system call and one read on each side, instead
 * of two), or after COALESCE_MS when no command comes (a long hold). It rides inside the release
 * script itself, which runs it first exactly as the attempt script would: one script call, one
 * read of the holders and one server time for both. Redis still orders the queue (the attempt
 * queues the caller when it arrives); an attempt only leaves this process up to COALESCE_MS later
 * than it would have.
 */
export class LocalLocks {
  readonly #locks = new Map<string, LockState>()

  static of(ctx: RedkitContext): LocalLocks {
    let local = registry.get(ctx)
    if (!local) {
      local = new LocalLocks()
      registry.set(ctx, local)
    }
    return local
  }

  /** Counts the hold of `owner` (weight `weight`) on `lock` until `ended`, or until `hold` ends. */
  held(lock: string, owner: string, weight: number, hold?: Hold): void {
    this.#state(lock).holds.set(owner, { weight, hold })
  }

  /** Stops counting the hold of `owner` (released, lost, given back or never taken). */
  ended(lock: string, owner: string): void {
    const state = this.#locks.get(lock)
    if (!state?.holds.delete(owner)) return
    this.#drop(lock, state)
  }

  /** True when this process's live holds take the whole `capacity` of the lock. */
  fills(lock: string, capacity: number): boolean {
    const state = this.#locks.get(lock)
    if (!state) return false
    let used = 0
    for (const [owner, { weight, hold }] of state.holds) {
      if (!hold || hold.active) used += weight
      else state.holds.delete(owner)
    }
    return used >= capacity
  }

  /** Keeps `rider` for the lock's next release from this process, or sends it alone within COALESCE_MS. */
  defer(lock: string, rider: Rider): void {
    const state = this.#state(lock)
    state.queued.push(rider)
    state.timer ??= setTimeout(() => {
      for (const late of this.take(lock)) late.alone()
    }, COALESCE_MS)
  }

  /** The attempts waiting on `lock`, handed to the caller (the release they ride with). */
  take(lock: string): readonly Rider[] {
    const state = this.#locks.get(lock)
    if (!state || state.queued.length === 0) return NONE
    clearTimeout(state.timer)
    state.timer = undefined
    const queued = state.queued
    state.queued = []
    this.#drop(lock, state)
    return queued
  }

  #state(lock: string): LockState {
    let state = this.#locks.get(lock)
    if (!state) {
      state = { holds: new Map(), queued: [], timer: undefined }
      this.#locks.set(lock, state)
    }
    return state
  }

  #drop(lock: string, state: LockState): void {
    if (state.holds.size === 0 && state.queued.length === 0) this.#locks.delete(lock)
  }
}
