import type { Connection } from '../core/connection.js'
import { errors } from '../core/errors.js'
import type { CacheKeys } from './cache-keys.js'
import { freshVersion } from './parts.js'
import { scripts } from './scripts.js'

const SCAN_COUNT = 500

/**
 * Tag index, designed for Cluster: one Redis set per tag, `<prefix>:{<cache>#tag:<tag>}`, holding
 * the keys of the entries written with that tag. Each tag is its own hash tag, so tags spread over
 * the slots like entries do, and no operation needs two slots in one command:
 *
 * - `set(..., { tags })` adds the entry to each tag's set (one script per tag, in the tag's slot)
 *   *before* it writes the entry, so an entry is never visible without its index; the set's TTL is
 *   kept at least as long as the entry's, so an index dies with the last entry it covers.
 * - `invalidateTags` walks each tag's set with SSCAN and deletes the entries it names (each
 *   delete routed to the entry's own slot, voiding that entry's loads in flight; node-redis
 *   pipelines them per node).
 *
 * Members are not removed when their entry is deleted or re-written without the tag: a stale member
 * only costs an UNLINK of a missing key, and it expires with the set. Not removing them at
 * invalidation time is deliberate: a `set` racing with `invalidateTags` may have added its member
 * just before the scan; keeping it means a later invalidation still finds that entry.
 */
export class TagIndex {
  readonly #connection: Connection
  readonly #keys: CacheKeys
  readonly #epochTtlMs: number

  constructor(connection: Connection, keys: CacheKeys, epochTtlMs: number) {
    this.#connection = connection
    this.#keys = keys
    this.#epochTtlMs = epochTtlMs
  }

  /**
   * Each tag's invalidation epoch (`<index>:e`, same slot): `invalidateTags` writes a fresh one
   * before it scans. A load with tags reads them before its lease and again after adding its entry
   * to the tag sets: a change means an invalidation ran whose scan may have missed the entry (its
   * first load: no set listed it yet), and the load does not store. A read, so a miss of a key that
   * does not exist writes nothing to the tag sets. '' for a tag never invalidated (or lost: a lost
   * epoch reads as a change to whoever read one, and lives longer than any lease is honoured).
   */
  async epochs(indexKeys: readonly string[]): Promise<string[]> {
    return Promise.all(
      indexKeys.map((index) => this.#connection.send<string | null>(['GET', `${index}:e`], { key: index }).then((epoch) => epoch ?? '')),
    )
  }

  /** Validates tags (each a name: E_INVALID_KEY) and returns their index keys. */
  indexKeys(tags: readonly string[]): string[] {
    if (!Array.isArray(tags)) throw errors.invalidArgument('tags', 'an array of strings', tags)
    return [...new Set(tags)].map((tag) => this.#keys.tag(tag))
  }

  /** Records `entryKey` under each tag, for at least `ttlMs`. */
  async add(indexKeys: readonly string[], entryKey: string, ttlMs: number): Promise<void> {
    await Promise.all(indexKeys.map((index) => scripts.tagAdd.run(this.#connection, [index], [ttlMs, entryKey])))
  }

  /**
   * Deletes every entry recorded under the tags; calls `onBatch` with the entry keys of each batch
   * deleted (for invalidation messages). @returns entries that existed and were deleted
   */
  async invalidate(
    tags: readonly string[],
    remove: (entryKey: string) => Promise<boolean>,
    onBatch: (entryKeys: string[]) => Promise<void>,
  ): Promise<number> {
    let deleted = 0
    for (const index of this.indexKeys(tags)) {
      await this.#connection.send(['SET', `${index}:e`, freshVersion(), 'PX', String(this.#epochTtlMs)], { key: index })
      let cursor = '0'
      do {
        const [next, members] = await this.#connection.send<[string, string[]]>(['SSCAN', index, cursor, 'COUNT', String(SCAN_COUNT)], {
          key: index,
        })
        cursor = next
        // A tag set is data in Redis, so it may have been planted: delete only this cache's entries,
        // never a key outside the cache (another cache, a lock, a queue, a key outside the prefix).
        const entries = members.filter((member) => this.#keys.keyOf(member) !== undefined)
        if (entries.length === 0) continue
        const results = await Promise.all(entries.map((member) => remove(member)))
        for (const existed of results) if (existed) deleted++
        await onBatch(entries)
      } while (cursor !== '0')
    }
    return deleted
  }
}
