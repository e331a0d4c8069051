/**
 * Keys known to be over their limit, with the monotonic time until which they stay denied. A
 * denial from Redis says how long until a cost of 1 could pass again; until then no Redis call can
 * say yes, so the decision is taken here. Bounded: past `maxKeys`, expired entries are swept and
 * then the oldest are forgotten (a forgotten key just asks Redis again).
 */
export class InMemoryBlock {
  readonly #until = new Map<string, { until: number; reset: number }>()
  readonly #maxKeys: number
  readonly #now: () => number

  constructor(maxKeys: number, now: () => number = performance.now.bind(performance)) {
    this.#maxKeys = maxKeys
    this.#now = now
  }

  /** Ms this key stays blocked and ms until its full limit is back; undefined when it is not blocked. */
  remaining(key: string): { blockedMs: number; resetMs: number } | undefined {
    const entry = this.#until.get(key)
    if (entry === undefined) return undefined
    const now = this.#now()
    const left = entry.until - now
    if (left > 0) return { blockedMs: left, resetMs: Math.max(left, entry.reset - now) }
    this.#until.delete(key)
    return undefined
  }

  block(key: string, ms: number, resetMs: number): void {
    if (!(ms > 0)) return
    this.#until.delete(key)
    if (this.#until.size >= this.#maxKeys) this.#evict()
    const now = this.#now()
    this.#until.set(key, { until: now + ms, reset: now + resetMs })
  }

  unblock(key: string): void {
    this.#until.delete(key)
  }

  get size(): number {
    return this.#until.size
  }

  #evict(): void {
    const now = this.#now()
    for (const [key, entry] of this.#until) if (entry.until <= now) this.#until.delete(key)
    // Still full: drop the oldest tenth (Map iterates in insertion order).
    let drop = this.#until.size >= this.#maxKeys ? Math.max(1, Math.floor(this.#maxKeys / 10)) : 0
    for (const key of this.#until.keys()) {
      if (drop-- <= 0) break
      this.#until.delete(key)
    }
  }
}
