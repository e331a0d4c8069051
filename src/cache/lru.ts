/**
 * The near cache's store: a bounded map with least-recently-used eviction and a per-entry expiry.
 * A Map keeps insertion order, so the first key is the least recently used one; a hit moves its key
 * to the end unless it is already there.
 */
export class Lru<V> {
  readonly maxEntries: number
  readonly #map = new Map<string, { value: V; expiresAt: number }>()
  #last: string | undefined

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries
  }

  get size(): number {
    return this.#map.size
  }

  /** The entry, or undefined when absent or expired at `now` (an expired entry is dropped). */
  get(key: string, now: number): { value: V; expiresAt: number } | undefined {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.#map.delete(key)
      return undefined
    }
    if (this.#last !== key) {
      this.#map.delete(key)
      this.#map.set(key, entry)
      this.#last = key
    }
    return entry
  }

  set(key: string, value: V, expiresAt: number): void {
    this.#map.delete(key)
    this.#map.set(key, { value, expiresAt })
    this.#last = key
    while (this.#map.size > this.maxEntries) {
      const oldest = this.#map.keys().next().value as string
      this.#map.delete(oldest)
    }
  }

  delete(key: string): boolean {
    if (this.#last === key) this.#last = undefined
    return this.#map.delete(key)
  }

  clear(): void {
    this.#map.clear()
    this.#last = undefined
  }

  keys(): IterableIterator<string> {
    return this.#map.keys()
  }
}
