import { type Clock, systemClock } from './clock.js'

export interface WithTimeoutOptions {
  /**
   * Whether the timer is `unref()`'d, so a pending bound never keeps the process alive.
   * @defaultValue true
   */
  unref?: boolean
  /** @defaultValue systemClock */
  clock?: Clock
}

/**
 * Waits for `work` at most `ms`. When time runs out first, the result is what `onTimeout` returns,
 * or its throw becomes the rejection (throw a RedkitError E_TIMEOUT to fail the wait). The timer
 * is always cleared, so nothing fires after the work settles. `work` may be a function: it is then
 * called on the next microtask, so a synchronous throw becomes a rejection too. The work itself is
 * not cancelled: `onTimeout` is the place to abandon it (drop the connection, release the lease).
 */
export function withTimeout<T, F = never>(
  work: PromiseLike<T> | (() => T | PromiseLike<T>),
  ms: number,
  onTimeout: () => F,
  { unref = true, clock = systemClock }: WithTimeoutOptions = {},
): Promise<T | F> {
  const pending = typeof work === 'function' ? Promise.resolve().then(work) : Promise.resolve(work)
  return new Promise<T | F>((resolve, reject) => {
    let settled = false
    const timer = clock.setTimeout(() => {
      if (settled) return
      settled = true
      try {
        resolve(onTimeout())
      } catch (error) {
        reject(error)
      }
    }, ms)
    if (unref) timer.unref()
    pending.then(
      (value) => {
        if (settled) return
        settled = true
        clock.clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        if (settled) return
        settled = true
        clock.clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/** The shape of a node-redis client (standalone, Cluster or Sentinel) as far as closing it goes. */
export interface ClosableClient {
  close(): Promise<unknown> | unknown
  destroy?(): unknown
  isOpen?: boolean
  on?(event: 'connect', listener: () => void): unknown
}

/**
 * Closes a client gracefully: replies in flight get `graceMs` to arrive, then the socket is
 * destroyed, so a close never hangs on a dead or reconnecting server. `graceMs <= 0` (or a client
 * that is not open) destroys at once. Never rejects.
 */
export async function closeClient(client: ClosableClient, graceMs: number, { clock = systemClock }: { clock?: Clock } = {}): Promise<void> {
  const destroy = () => {
    try {
      client.destroy?.()
    } catch {
      // already gone
    }
  }
  // node-redis 6.3 can finish a reconnect's TCP connect after close()/destroy() and keep a live
  // socket; destroy it again when that happens so nothing keeps the process alive.
  client.on?.('connect', destroy)
  if (graceMs <= 0 || client.isOpen === false) return destroy()
  const graceful = Promise.resolve()
    .then(() => client.close())
    .then(
      () => true,
      () => false,
    )
  // Not unref'd: the close in flight holds the process for at most graceMs, as before.
  const clean = await withTimeout(graceful, graceMs, () => false, { unref: false, clock })
  if (!clean) destroy()
}
