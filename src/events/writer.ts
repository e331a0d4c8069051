import type { Codec } from '../core/codec.js'
import type { Connection } from '../core/connection.js'
import type { ExpiryKeys } from './expiry-keys.js'
import { scripts } from './scripts.js'

/**
 * Writes deadlines. On Cluster, each write is followed by a directory touch so sweepers learn
 * which slots hold deadlines; touches from one tick are coalesced into one script call.
 */
export class DeadlineWriter {
  readonly #connection: Connection
  readonly #keys: ExpiryKeys
  readonly #codec: Codec
  #pending = new Map<number, number>()
  #flush: Promise<void> | undefined

  constructor(connection: Connection, keys: ExpiryKeys, codec: Codec) {
    this.#connection = connection
    this.#keys = keys
    this.#codec = codec
  }

  async set(key: string, value: unknown, ttlMs: number, keepValue: boolean): Promise<number> {
    const encoded = this.#codec.encode(value)
    const slot = this.#keys.forKey(key)
    const deadline = await scripts.set.run(
      this.#connection,
      [key, slot.index, slot.values, slot.claimed],
      [encoded, ttlMs, keepValue ? '1' : '0', this.#keys.wake],
    )
    await this.#touch(slot.slot, deadline)
    return deadline
  }

  /**
   * ttlMs = 0 adopts the key's current TTL. `keep`: true keeps the key's own string value for the
   * event, `{ value }` keeps that value instead. Returns the deadline, or undefined when the key is
   * missing or has no TTL.
   */
  async expire(key: string, ttlMs: number, keep: boolean | { value: unknown }): Promise<number | undefined> {
    const slot = this.#keys.forKey(key)
    const kept: '0' | '1' | `c${string}` = typeof keep === 'object' ? `c${this.#codec.encode(keep.value)}` : keep ? '1' : '0'
    const deadline = await scripts.expire.run(
      this.#connection,
      [key, slot.index, slot.values, slot.claimed],
      [ttlMs, kept, this.#keys.wake],
    )
    if (deadline < 0) return undefined
    await this.#touch(slot.slot, deadline)
    return deadline
  }

  async cancel(key: string, deleteKey: boolean): Promise<boolean> {
    const slot = this.#keys.forKey(key)
    return (await scripts.cancel.run(this.#connection, [key, slot.index, slot.values, slot.claimed], [deleteKey ? '1' : '0'])) === 1
  }

  /** Cluster only: records (after the entry is written) that the slot has a deadline. */
  #touch(slot: number, deadline: number): Promise<void> | undefined {
    if (slot < 0) return undefined
    const known = this.#pending.get(slot)
    if (known === undefined || deadline < known) this.#pending.set(slot, deadline)
    this.#flush ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const batch = this.#pending
        this.#pending = new Map()
        this.#flush = undefined
        const args = [this.#keys.wake]
        for (const [s, d] of batch) args.push(String(s), String(d))
        scripts.dirTouch.run(this.#connection, [this.#keys.directory, this.#keys.versions], args).then(
          () => resolve(),
          // The deadline itself is stored; the sweepers' reconciliation pass finds its slot even so.
          (error: unknown) => reject(error),
        )
      })
    })
    return this.#flush
  }
}
