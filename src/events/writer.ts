import type { Codec } from '../core/codec.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { ScriptConnection } from '../core/scripts.js'
import type { SlotDirectory } from './directory.js'
import type { ExpiryKeys } from './expiry-keys.js'
import { scripts } from './scripts.js'

/**
 * Writes deadlines: one script in the key's own slot. On Cluster, a deadline that became its slot's
 * earliest is then told to the slot directory, without waiting for it (see SlotDirectory); a
 * later one needs no touch, as the directory already holds the slot at an earlier deadline.
 */
export class DeadlineWriter {
  /** The shared connection, or a durable writer (each write then WAITs for the replicas). */
  readonly #connection: ScriptConnection
  readonly #keys: ExpiryKeys
  readonly #codec: Codec
  readonly #directory: SlotDirectory

  constructor(connection: ScriptConnection, keys: ExpiryKeys, codec: Codec, directory: SlotDirectory) {
    this.#connection = connection
    this.#keys = keys
    this.#codec = codec
    this.#directory = directory
  }

  /** Pub/sub wake-up of the sweepers: on a single server only (a PUBLISH on Cluster reaches every node). */
  get #wake(): string {
    return this.#keys.cluster ? '' : this.#keys.wake
  }

  async set(key: string, value: unknown, ttlMs: number, keepValue: boolean): Promise<number> {
    const encoded = this.#codec.encode(value)
    const slot = this.#keys.forKey(key)
    const [deadline, touchAt] = await scripts.set
      .run(
        this.#connection,
        [key, slot.index, slot.values, slot.claimed, slot.tracked],
        [encoded, ttlMs, keepValue ? '1' : '0', this.#wake],
      )
      .catch((error: unknown) => this.#touchWritten(error, slot.slot))
    if (touchAt > 0) this.#directory.touch(slot.slot, touchAt)
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
    const [deadline, touchAt] = await scripts.expire
      .run(this.#connection, [key, slot.index, slot.values, slot.claimed, slot.tracked], [ttlMs, kept, this.#wake])
      .catch((error: unknown) => this.#touchWritten(error, slot.slot))
    if (deadline < 0) return undefined
    if (touchAt > 0) this.#directory.touch(slot.slot, touchAt)
    return deadline
  }

  /**
   * A durable write that replicas did not acknowledge (E_NOT_DURABLE) is on the master all the same:
   * tell the directory of its deadline as for any write, or on Cluster its event would never fire.
   */
  #touchWritten(error: unknown, slot: number): never {
    const reply = error instanceof RedkitError && error.code === ErrorCodes.E_NOT_DURABLE ? error.details?.reply : undefined
    if (Array.isArray(reply) && Number(reply[1]) > 0) this.#directory.touch(slot, Number(reply[1]))
    throw error
  }

  async cancel(key: string, deleteKey: boolean): Promise<boolean> {
    const slot = this.#keys.forKey(key)
    return (
      (await scripts.cancel.run(this.#connection, [key, slot.index, slot.values, slot.claimed, slot.tracked], [deleteKey ? '1' : '0'])) ===
      1
    )
  }
}
