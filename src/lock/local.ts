import type { RedkitContext } from '../core/context.js'
import type { Hold } from './hold.js'

/** How long an attempt on a lock this process fills may wait for that lock's next command here. */
export const COALESCE_MS = 5

interface LockState {
  /**
   * Holds of this process on the lock by owner token: a grant read from a release reply counts at
   * once (its waiter takes it a few promise hops later), then its Hold; ended ones are dropped
   * when next counted.
   */
  readonly holds: Map<string, { weight: number; hold: Hold | undefined }>
  /** Attempts waiting to go out with the lock's next command from this process. */
  queued: Array<() => void>
  timer: NodeJS.Timeout | undefined
}

const registry = new WeakMap<RedkitContext, LocalLocks>()

/**
 * What this process knows of its own holds, per lock, and the attempts that ride along with the
 * lock's next command. An attempt on a lock that this process's holds fill completely cannot be
 * granted before one of those holds ends, and that end is a release sent from here: the attempt
 * is sent right before it, in the same write (one system call and one read on each side, instead
 * of two), or after COALESCE_MS when no command comes (a long hold). Redis still orders the
 * queue (the attempt script queues the caller when it arrives); an attempt only leaves this
 * process up to COALESCE_MS later than it would have.
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

  /** Runs `send` with the lock's next command from this process, or within COALESCE_MS. */
  defer(lock: string, send: () => void): void {
    const state = this.#state(lock)
    state.queued.push(send)
    state.timer ??= setTimeout(() => this.flush(lock), COALESCE_MS)
  }

  /** Sends the attempts waiting on `lock` now (call right before sending a command of that lock). */
  flush(lock: string): void {
    const state = this.#locks.get(lock)
    if (!state || state.queued.length === 0) return
    clearTimeout(state.timer)
    state.timer = undefined
    const queued = state.queued
    state.queued = []
    for (const send of queued) send()
    this.#drop(lock, state)
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
