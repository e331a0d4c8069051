import type { KeySpace } from '../core/keys.js'
import { hashSlot } from '../core/keys.js'
import { tagForSlot } from '../core/slot-map.js'

/** The index keys that hold one key's deadline: in the key's own slot on Cluster. */
export interface SlotKeys {
  /** Slot number on Cluster, -1 on a single server. */
  slot: number
  /** zset: member = user key, score = deadline (or lease end once claimed). */
  index: string
  /** hash: user key -> kept value ('c' + encoded, or 'r' + raw). */
  values: string
  /** hash: user key -> original deadline, while claimed (Cluster). */
  claimed: string
  /** zset: keys adopted by `track` -> when to re-read their TTL (changed outside redkit). */
  tracked: string
}

/** Every key of the reliable expiry machinery. */
export class ExpiryKeys {
  readonly stream: string
  /** stream: the kept values of events in `stream`, under the same ids, until every group acknowledged them. */
  readonly eventValues: string
  readonly dead: string
  readonly directory: string
  readonly versions: string
  readonly wake: string
  /** hash: consumer group -> '1', the groups of the stream (see stream-group-create.lua). */
  readonly groups: string
  /** hash: '<stream id>/<group>' -> failed handler calls, while an event is being retried. */
  readonly failures: string
  readonly #keys: KeySpace
  readonly #cluster: boolean
  readonly #single: SlotKeys

  constructor(keys: KeySpace, cluster: boolean) {
    this.#keys = keys
    this.#cluster = cluster
    const exp = keys.object('exp')
    this.stream = exp('events')
    this.eventValues = exp('evals')
    this.dead = exp('dead')
    this.directory = exp('dir')
    this.versions = exp('dirver')
    this.wake = exp('wake')
    this.groups = exp('groups')
    this.failures = exp('failures')
    this.#single = { slot: -1, index: exp('due'), values: exp('val'), claimed: exp('claimed'), tracked: exp('tracked') }
  }

  /**
   * True for a key of this machinery itself (the index, values, stream, directory, per-slot keys):
   * a user key must never be one, or a `set`/`expire`/`delete` would overwrite the index or the stream.
   */
  isInternal(key: string): boolean {
    const prefix = this.#keys.prefix
    if (key === `${prefix}:{exp}` || key.startsWith(`${prefix}:{exp}:`)) return true
    return key.startsWith(`${prefix}:{~`) && /^\{~[0-9a-z]+\}(?::|$)/.test(key.slice(prefix.length + 1))
  }

  get cluster(): boolean {
    return this.#cluster
  }

  /** The index keys for a user key. */
  forKey(key: string): SlotKeys {
    return this.#cluster ? this.forSlot(hashSlot(key)) : this.#single
  }

  forSlot(slot: number): SlotKeys {
    if (!this.#cluster) return this.#single
    const part = this.#keys.object(tagForSlot(slot))
    return { slot, index: part('exp', 'due'), values: part('exp', 'val'), claimed: part('exp', 'claimed'), tracked: part('exp', 'tracked') }
  }
}
