import type { Connection } from '../core/connection.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'

/** How often the offset to the server's clock is measured again (on use, never on a timer). */
const RESYNC_MS = 60_000

/**
 * This process's estimate of the Redis server's clock: the server's TIME (midpoint of the round
 * trip) carried forward on the monotonic clock (`performance.now()`), never on `Date.now()`, so a
 * step of this process's wall clock (NTP, a VM restored from a snapshot, a manual fix) changes
 * nothing: neither "now" nor when the estimate is measured again. Decisions that must agree across
 * processes (rate limits, sliding windows) read TIME inside their scripts; this clock only picks
 * which bucket or period key a write goes to, where an error of a round trip is harmless.
 */
export class ServerClock {
  readonly #connection: Connection
  readonly #monotonic: () => number
  /** Server epoch ms minus monotonic ms at the last sync. */
  #offset = 0
  #syncedAt = Number.NEGATIVE_INFINITY
  #syncing: Promise<void> | undefined

  constructor(connection: Connection, monotonic: () => number = () => performance.now()) {
    this.#connection = connection
    this.#monotonic = monotonic
  }

  /** Server time in epoch ms; measures the offset first when it is unknown or stale. */
  async now(): Promise<number> {
    if (this.#monotonic() - this.#syncedAt > RESYNC_MS) {
      const sync = this.#sync()
      // Once an offset is known, a stale one is still good enough while the new one is measured.
      if (this.#syncedAt === Number.NEGATIVE_INFINITY) await sync
      else sync.catch(() => {})
    }
    return Math.floor(this.#monotonic() + this.#offset)
  }

  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      try {
        const sent = this.#monotonic()
        const [seconds, micros] = await this.#connection.send<[string, string]>(['TIME'])
        const received = this.#monotonic()
        this.#offset = Number(seconds) * 1000 + Number(micros) / 1000 - (sent + received) / 2
        this.#syncedAt = received
      } finally {
        this.#syncing = undefined
      }
    })()
    return this.#syncing
  }
}

const clocks = new WeakMap<Connection, ServerClock>()

/** Anything with `now()`; the server clock, or one a caller injected. */
export interface NowSource {
  now(): number | Promise<number>
}

/** The injected clock if there is one, else the connection's server clock. */
export function clockFor(connection: Connection, injected: { now(): number } | undefined): NowSource {
  if (injected === undefined) return serverClock(connection)
  if (injected === null || typeof injected.now !== 'function')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'clock must be an object with a now() method')
  return injected
}

/** The one server clock of a connection. */
export function serverClock(connection: Connection): ServerClock {
  let clock = clocks.get(connection)
  if (!clock) {
    clock = new ServerClock(connection)
    clocks.set(connection, clock)
  }
  return clock
}
