import type { Connection } from '../core/connection.js'
import type { ExpiryKeys } from './expiry-keys.js'
import { scripts } from './scripts.js'

/** Pause before a failed directory touch is tried again. */
const RETRY_MS = 1000

/**
 * Cluster: tells the sweepers' slot directory which slots hold deadlines, after the deadlines
 * themselves are stored (in their own slots). Touches of one tick travel in one script call. A
 * writer never waits for it: the directory lives on one master, and a `set` must not depend on
 * that master. A touch that fails is kept and tried again until it lands (or close); should the
 * process die first, the sweepers' reconciliation pass finds the slot.
 */
export class SlotDirectory {
  readonly #connection: Connection
  readonly #keys: ExpiryKeys
  readonly #onError: (error: unknown) => void
  #pending = new Map<number, number>()
  #flushing: Promise<void> | undefined
  #retry: NodeJS.Timeout | undefined
  #closed = false

  constructor(connection: Connection, keys: ExpiryKeys, onError: (error: unknown) => void) {
    this.#connection = connection
    this.#keys = keys
    this.#onError = onError
  }

  /** Records that `slot` holds a deadline at `deadline` (server clock). Returns at once. */
  touch(slot: number, deadline: number): void {
    if (slot < 0 || this.#closed) return
    this.#add(slot, deadline)
    if (!this.#flushing && !this.#retry) this.#flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush())
  }

  #add(slot: number, deadline: number): void {
    const known = this.#pending.get(slot)
    if (known === undefined || deadline < known) this.#pending.set(slot, deadline)
  }

  async #flush(): Promise<void> {
    const batch = this.#pending
    this.#pending = new Map()
    const args = [this.#keys.wake]
    for (const [s, d] of batch) args.push(String(s), String(d))
    try {
      if (batch.size > 0) await scripts.dirTouch.run(this.#connection, [this.#keys.directory, this.#keys.versions], args)
      // Touches that arrived while this one was in flight go in the next call.
      this.#flushing = this.#pending.size > 0 && !this.#closed ? this.#flush() : undefined
    } catch (error) {
      this.#flushing = undefined
      for (const [s, d] of batch) this.#add(s, d)
      if (this.#closed) return
      this.#onError(error)
      this.#retry = setTimeout(() => {
        this.#retry = undefined
        this.#flushing = this.#flush()
      }, RETRY_MS)
      this.#retry.unref()
    }
  }

  /** Touches not yet landed (tests, close). */
  get pending(): number {
    return this.#pending.size
  }

  /** Waits for the touch in flight (bounded by the caller), then stops retrying. */
  async close(): Promise<void> {
    await this.#flushing?.catch(() => {})
    this.#closed = true
    clearTimeout(this.#retry)
    this.#retry = undefined
  }
}
