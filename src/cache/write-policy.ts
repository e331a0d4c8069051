import { ErrorCodes, RedkitError } from '../core/errors.js'
import { durationMs } from '../core/validate.js'
import type { EntryStore } from './entry-store.js'
import type { CacheParts } from './parts.js'
import type { TagIndex } from './tags.js'
import type { CacheOptions, CacheSetOptions, CacheWriter } from './types.js'
import type { WriteBehind } from './write-behind.js'

const NO_INFO = Object.freeze({ id: undefined, attempt: 1 })

/**
 * What `set` and `delete` do with the source of truth: nothing (cache only), `through` (write it,
 * then cache), `around` (write it, drop the cached copy) or `behind` (queue it durably, cache now).
 * Every cache write voids the loads in flight of its key (EntryStore).
 */
export class WritePolicy<T> {
  readonly #parts: CacheParts
  readonly #store: EntryStore<T>
  readonly #tags: TagIndex
  readonly #mode: CacheOptions<T>['write']
  readonly #writer: CacheWriter<T> | undefined
  readonly #writeBehind: WriteBehind<T> | undefined

  constructor(
    parts: CacheParts,
    store: EntryStore<T>,
    tags: TagIndex,
    mode: CacheOptions<T>['write'],
    writer: CacheWriter<T> | undefined,
    writeBehind: WriteBehind<T> | undefined,
  ) {
    this.#parts = parts
    this.#store = store
    this.#tags = tags
    this.#mode = mode
    this.#writer = writer
    this.#writeBehind = writeBehind
  }

  async set(key: string, value: T, options: CacheSetOptions): Promise<void> {
    const parts = this.#parts
    const entryKey = parts.keys.entry(key)
    if (value === undefined)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'undefined means "absent" in a cache: use delete(key) to remove a value')
    const encoded = this.#store.encode(value)
    if (options.tags !== undefined) this.#tags.indexKeys(options.tags)
    const ttlMs = options.ttlMs === undefined ? undefined : durationMs(options.ttlMs, 'ttlMs')
    // The guard first: a key written to the source but missing from the filter would read as
    // absent for ever. When the add fails, the set fails before anything was written.
    if (parts.bloom) await parts.bloom.add(key)
    const writer = this.#writer
    if (this.#mode === 'through') {
      // A lease over the source write: two sets of one key may reach the source in either order,
      // so the second to reach the cache deletes the entry rather than guess (EntryStore.put).
      const lease = await this.#store.voidLoads(key, entryKey)
      await (writer as CacheWriter<T>).write(key, value, NO_INFO)
      parts.near?.invalidate(key, 'local')
      await this.#store.put(key, entryKey, encoded, { ttlMs, tags: options.tags }, lease, true, true)
      return
    }
    if (this.#mode === 'around') await (writer as CacheWriter<T>).write(key, value, NO_INFO)
    if (this.#mode === 'around') {
      await this.#store.remove(key, entryKey)
      parts.notify('invalidate', { keys: [key], reason: 'delete' })
      return
    }
    if (this.#mode === 'behind') await (this.#writeBehind as WriteBehind<T>).enqueue(key, 'set', encoded)
    parts.near?.invalidate(key, 'local')
    await this.#store.put(key, entryKey, encoded, { ttlMs, tags: options.tags }, undefined, true)
  }

  async delete(key: string): Promise<boolean> {
    const parts = this.#parts
    const entryKey = parts.keys.entry(key)
    if (this.#writer?.delete) {
      if (this.#mode === 'behind') await (this.#writeBehind as WriteBehind<T>).enqueue(key, 'delete', undefined)
      else if (this.#mode) await this.#writer.delete(key, NO_INFO)
    }
    const existed = await this.#store.remove(key, entryKey)
    parts.notify('invalidate', { keys: [key], reason: 'delete' })
    return existed
  }
}
