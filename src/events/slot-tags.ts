import { hashSlot } from '../core/keys.js'

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
