/**
 * Where components read the time and start timers, so that tests can drive time by hand
 * (`TestClock`) instead of sleeping. Production code uses `systemClock`.
 */

/** The part of a Node timer components use: `unref()` so a pending timer never keeps the process alive. */
export interface Timer {
  unref(): unknown
  ref(): unknown
}

export interface Clock {
  /** Epoch milliseconds (what `Date.now()` returns). */
  now(): number
  setTimeout(callback: () => void, ms: number): Timer
  clearTimeout(timer: Timer | undefined): void
  setInterval(callback: () => void, ms: number): Timer
  clearInterval(timer: Timer | undefined): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined),
}

/**
 * A sleep that an AbortSignal cuts short, and that never keeps the process alive by itself.
 * Rejects with `signal.reason` when aborted.
 */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = clock.setTimeout(done, ms)
    timer.unref()
    function done() {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    function onAbort() {
      clock.clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

interface PendingTimer extends Timer {
  readonly id: number
  due: number
  readonly every: number | undefined
  readonly callback: () => void
  cleared: boolean
}

/**
 * A clock that only moves when told to. Timers fire in due order (ties in creation order) while
 * `advance()` walks time forward; promise callbacks queued by a timer run before the next timer
 * fires, as they would in real time.
 */
export class TestClock implements Clock {
  #now: number
  #nextId = 1
  readonly #timers = new Set<PendingTimer>()

  constructor(start = 1_700_000_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  /** Timers not yet fired or cleared (intervals count once). */
  get pending(): number {
    return this.#timers.size
  }

  setTimeout(callback: () => void, ms: number): Timer {
    return this.#add(callback, ms, undefined)
  }

  setInterval(callback: () => void, ms: number): Timer {
    return this.#add(callback, ms, Math.max(1, ms))
  }

  clearTimeout(timer: Timer | undefined): void {
    this.#clear(timer)
  }

  clearInterval(timer: Timer | undefined): void {
    this.#clear(timer)
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      await flushMicrotasks()
      const next = this.#earliest()
      if (!next || next.due > target) break
      this.#now = Math.max(this.#now, next.due)
      if (next.every === undefined) this.#timers.delete(next)
      else next.due += next.every
      next.callback()
    }
    this.#now = target
    await flushMicrotasks()
  }

  /** Sets the wall clock without firing timers (a clock jump, as NTP can make). */
  set(now: number): void {
    this.#now = now
  }

  #add(callback: () => void, ms: number, every: number | undefined): PendingTimer {
    const timer: PendingTimer = {
      id: this.#nextId++,
      // Node treats delays below 1 ms (and NaN, Infinity) as 1 ms.
      due: this.#now + (Number.isFinite(ms) ? Math.max(1, ms) : 1),
      every,
      callback,
      cleared: false,
      unref: () => timer,
      ref: () => timer,
    }
    this.#timers.add(timer)
    return timer
  }

  #clear(timer: Timer | undefined): void {
    if (!timer) return
    const pending = timer as PendingTimer
    pending.cleared = true
    this.#timers.delete(pending)
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined
    for (const timer of this.#timers) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer
    }
    return best
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}
