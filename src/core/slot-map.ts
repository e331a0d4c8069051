import { hashSlot } from './keys.js'

/** Cluster slot-map helpers shared by whatever follows the masters or builds per-slot keys. */

export interface SlotRange {
  from: number
  to: number
  /** host:port of the master, as node-redis names it. */
  master: string
  masterId: string
}

/** Parses a raw CLUSTER SLOTS reply (RESP2 arrays). */
export function parseClusterSlots(reply: unknown): SlotRange[] {
  if (!Array.isArray(reply)) return []
  const out: SlotRange[] = []
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3) continue
    const [from, to, master] = entry as [unknown, unknown, unknown]
    if (!Array.isArray(master) || master.length < 2) continue
    out.push({ from: Number(from), to: Number(to), master: `${String(master[0])}:${String(master[1])}`, masterId: String(master[2] ?? '') })
  }
  return out
}

/** What to subscribe and what to drop so that the subscribed masters become `current`. */
export function diffMasters(subscribed: Iterable<string>, current: Iterable<string>): { added: string[]; removed: string[] } {
  const before = new Set(subscribed)
  const after = new Set(current)
  return {
    added: [...after].filter((address) => !before.has(address)),
    removed: [...before].filter((address) => !after.has(address)),
  }
}

export function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false
  for (const item of a) if (!b.has(item)) return false
  return true
}

let table: string[] | undefined

/**
 * A short hash tag for every Cluster slot: the index entry of a key must live in the key's own slot
 * (one atomic script writes both), so the index key of slot S is built with the tag of S.
 * Computed once per process, on first use on Cluster (~20 ms).
 */
export function tagForSlot(slot: number): string {
  if (!table) {
    const found: string[] = new Array(16384)
    let missing = 16384
    for (let i = 0; missing > 0; i++) {
      // '~' keeps these tags apart from names users give their own objects.
      const tag = `~${i.toString(36)}`
      const s = hashSlot(tag)
      if (found[s] === undefined) {
        found[s] = tag
        missing--
      }
    }
    table = found
  }
  return table[slot] as string
}
