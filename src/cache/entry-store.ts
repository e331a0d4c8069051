import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { CacheKeys } from './cache-keys.js'
import { type EncodedValue, type EntryMeta, encodeValue, entryText, exceedsBytes } from './entry.js'
import { jitterTtl } from './jitter.js'
import { type CacheParts, freshVersion, type Lease } from './parts.js'
import { sendTold, tellMode } from './protocol.js'
import type { ExpiryReloader } from './reload.js'
import { scripts } from './scripts.js'
import type { TagIndex } from './tags.js'
import { MSG, message } from './wire.js'

/** What a loaded value is stored with: the per-call TTL and tags (a function of the value allowed). */
export interface StoreOptions<T> {
  ttlMs: number | undefined
  tags: readonly string[] | ((value: T) => readonly string[]) | undefined
  /** A load's tags' invalidation epochs, read before its lease (TagIndex.epochs): it stores only if none changed. */
  epochs?: readonly string[]
}

/**
 * The Redis side of every write of a cache entry, and the one place leases are honoured: a plain
 * write (`set`) and a delete void every load in flight of the key; a loaded value is stored only
 * while its load's lease holds. Near copies are dropped around each write.
 */
export class EntryStore<T> {
  readonly #parts: CacheParts
  readonly #keys: CacheKeys
  readonly #tags: TagIndex
  readonly #reloader: ExpiryReloader | undefined

  constructor(parts: CacheParts, tags: TagIndex, reloader: ExpiryReloader | undefined) {
    this.#parts = parts
    this.#keys = parts.keys
    this.#tags = tags
    this.#reloader = reloader
  }

  encode(value: unknown): EncodedValue {
    const encoded = encodeValue(this.#parts.codec, value)
    const limit = this.#parts.settings.maxValueBytes
    if (exceedsBytes(encoded.payload, limit))
      throw new RedkitError(ErrorCodes.E_TOO_LARGE, `cache ${this.#parts.name}: value is larger than maxValueBytes (${limit})`)
    return encoded
  }

  /**
   * Stores a loaded value (or "absent") under its lease; a value that cannot be cached is reported,
   * not thrown. @returns false when the lease was void (a delete, set or invalidation came first)
   */
  async storeLoaded(
    key: string,
    entryKey: string,
    value: T | undefined,
    store: StoreOptions<T>,
    lease: Lease,
    invalidate: boolean,
  ): Promise<boolean> {
    const parts = this.#parts
    if (performance.now() - lease.grantedAt > parts.settings.lockTtlMs) {
      // Too old to trust: the lease version may have expired after a void. Not stored.
      if (lease.token) await this.#release(key, entryKey, lease, this.#voided(key)).catch(() => {})
      return false
    }
    try {
      if (value === undefined) {
        if (parts.settings.negativeTtlMs === undefined) {
          if (lease.token) await this.#release(key, entryKey, lease, message(MSG.absent, parts.instance, key))
          return true
        }
        return await this.put(key, entryKey, undefined, { ttlMs: parts.settings.negativeTtlMs, tags: undefined }, lease, invalidate)
      }
      let encoded: EncodedValue
      try {
        encoded = this.encode(value)
      } catch (error) {
        parts.report(error)
        if (lease.token) await this.#release(key, entryKey, lease, message(MSG.uncacheable, parts.instance, key))
        return true
      }
      const tags = typeof store.tags === 'function' ? store.tags(value) : store.tags
      return await this.put(key, entryKey, encoded, { ttlMs: store.ttlMs, tags }, lease, invalidate, false, store.epochs)
    } catch (error) {
      // The caller still gets the value; the next read loads again.
      parts.report(error)
      if (lease.token) this.#release(key, entryKey, lease, message(MSG.uncacheable, parts.instance, key)).catch(() => {})
      return false
    }
  }

  /** Releases a load's lock without storing, telling its waiters `note` (when the lease held). */
  #release(key: string, entryKey: string, lease: Lease, note: string): Promise<unknown> {
    const parts = this.#parts
    return scripts.set
      .run(
        parts.connection,
        [entryKey, this.#keys.lock(entryKey), this.#keys.version(entryKey)],
        [
          '',
          1,
          lease.token,
          this.#keys.channel,
          note,
          '',
          lease.version,
          parts.settings.leaseVersionTtlMs,
          this.#voided(key),
          tellMode(parts.connection),
          '',
          '',
        ],
      )
      .then((reply) => sendTold(parts, reply))
  }

  #voided(key: string): string {
    return message(MSG.invalidate, this.#parts.instance, key)
  }

  /**
   * Writes an entry (undefined value: a negative entry) with its tags. Without a lease it is a plain
   * write that voids the loads in flight; with one it stores only while the lease holds. A
   * write-through set (`through`) holds the lease `voidLoads` gave it before the source write:
   * when another write began since, the entry is deleted instead (which source write landed last
   * is unknown), and the next read loads it.
   * @returns false when the lease was void
   */
  async put(
    key: string,
    entryKey: string,
    encoded: EncodedValue | undefined,
    meta: EntryMeta,
    lease: Lease | undefined,
    invalidate: boolean,
    through = false,
    epochs?: readonly string[],
  ): Promise<boolean> {
    const parts = this.#parts
    const { settings } = parts
    const now = Date.now()
    const ttlMs = meta.ttlMs ?? (encoded ? settings.ttlMs : (settings.negativeTtlMs ?? settings.ttlMs))
    const fresh = encoded ? jitterTtl(ttlMs, settings.jitter) : ttlMs
    const hardTtl = encoded ? fresh + settings.swrMs : fresh
    // Checked first (a tags function may return anything): nothing is written for bad tags.
    const indexKeys = meta.tags === undefined ? undefined : this.#tags.indexKeys(meta.tags)
    const kept: EntryMeta = { ttlMs: meta.ttlMs, tags: meta.tags }
    const text = encoded ? entryText(encoded.kind, now, now + fresh, encoded.payload, kept) : entryText('n', now, now + fresh, '', kept)
    if (indexKeys && indexKeys.length > 0) await this.#tags.add(indexKeys, entryKey, hardTtl)
    // After the add: an invalidateTags whose scan ran before it wrote a new epoch first (TagIndex.epochs).
    if (epochs && indexKeys && lease && (await this.#tags.epochs(indexKeys)).some((epoch, i) => epoch !== epochs[i])) {
      if (lease.token) await this.#release(key, entryKey, lease, this.#voided(key))
      return false
    }
    const token = lease?.token ?? ''
    const stored = await scripts.set
      .run(
        parts.connection,
        [entryKey, this.#keys.lock(entryKey), this.#keys.version(entryKey)],
        [
          text,
          hardTtl,
          token,
          this.#keys.channel,
          token ? message(MSG.filled, parts.instance, key) : '',
          invalidate || !lease ? this.#voided(key) : '',
          lease?.version ?? '',
          settings.leaseVersionTtlMs,
          this.#voided(key),
          tellMode(parts.connection),
          freshVersion(),
          through ? 'through' : '',
        ],
      )
      .then((reply) => sendTold(parts, reply))
    // Again after the write: a read that started before it may have stored the old value meanwhile.
    if (invalidate || !lease || through) parts.near?.invalidate(key, 'local')
    if (stored === 1 && this.#reloader) await this.#reloader.track(entryKey, meta.ttlMs === undefined && !meta.tags ? undefined : kept)
    return stored === 1
  }

  /**
   * Voids the loads in flight of an entry without touching it (the source is changing: write-behind
   * drains, write-through sets). @returns the lease version it left, the lease of a write-through set
   */
  async voidLoads(key: string, entryKey: string): Promise<Lease> {
    const parts = this.#parts
    const version = freshVersion()
    await sendTold(
      parts,
      await scripts.set.run(
        parts.connection,
        [entryKey, this.#keys.lock(entryKey), this.#keys.version(entryKey)],
        [
          '',
          1,
          '',
          this.#keys.channel,
          '',
          this.#voided(key),
          '',
          parts.settings.leaseVersionTtlMs,
          '',
          tellMode(parts.connection),
          version,
          '',
        ],
      ),
    )
    return { version, token: '', grantedAt: performance.now() }
  }

  /**
   * The store options of a load with its tags' invalidation epochs, read before its lease, so an
   * `invalidateTags` while it loads voids it even on the key's first load, when no tag set lists it
   * yet. Tags that are a function of the value are known only once it loaded (a limit); bad tags
   * are reported when the value is stored.
   */
  async tagEpochs(store: StoreOptions<T>): Promise<StoreOptions<T>> {
    const { tags } = store
    if (!Array.isArray(tags) || tags.length === 0) return store
    let indexKeys: string[]
    try {
      indexKeys = this.#tags.indexKeys(tags)
    } catch {
      return store
    }
    return { ...store, epochs: await this.#tags.epochs(indexKeys) }
  }

  /** Deletes an entry and voids its loads in flight. @returns true when it was cached */
  async remove(key: string, entryKey: string, publish = true): Promise<boolean> {
    const parts = this.#parts
    parts.near?.invalidate(key, 'local')
    const deleted = await sendTold(
      parts,
      await scripts.delete.run(
        parts.connection,
        [entryKey, this.#keys.lock(entryKey), this.#keys.version(entryKey)],
        [
          this.#keys.channel,
          publish ? this.#voided(key) : '',
          parts.settings.leaseVersionTtlMs,
          tellMode(parts.connection),
          freshVersion(),
        ],
      ),
    )
    parts.near?.invalidate(key, 'local')
    return deleted === 1
  }
}
