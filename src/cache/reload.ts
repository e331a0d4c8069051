import type { RedkitContext } from '../core/context.js'
import { escapeGlob } from '../core/keys.js'
import type { Expirations, Subscription } from '../events/index.js'
import type { CacheKeys } from './cache-keys.js'
import type { EntryMeta } from './entry.js'

/**
 * `reloadOnExpire`: every entry written is adopted by reliable expirations (`track`), and one
 * consumer group per cache (`cache:<name>`) hears each expiry once across the instances and
 * reloads the key. At least once: a reload may run twice for one expiry after a crash.
 */
export class ExpiryReloader {
  readonly #expirations: () => Expirations
  readonly #keys: CacheKeys
  readonly #reload: (key: string, meta: EntryMeta | undefined) => Promise<unknown>
  #subscription: Promise<Subscription> | undefined
  #closed = false

  constructor(
    _rk: RedkitContext,
    expirations: () => Expirations,
    keys: CacheKeys,
    reload: (key: string, meta: EntryMeta | undefined) => Promise<unknown>,
  ) {
    this.#expirations = expirations
    this.#keys = keys
    this.#reload = reload
  }

  /** Starts hearing expirations (idempotent). */
  start(): Promise<Subscription> {
    this.#subscription ??= this.#expirations().on(
      `${escapeGlob(this.#keys.entryPrefix)}*}`,
      async (event) => {
        const key = this.#keys.keyOf(event.key)
        if (key !== undefined && !this.#closed) await this.#reload(key, metaOfEvent(event.value))
      },
      { group: `cache:${this.#keys.name}`, withValue: true },
    )
    this.#subscription.catch(() => {
      this.#subscription = undefined
    })
    return this.#subscription
  }

  /**
   * Schedules the expiry event of an entry just written with a TTL; the per-call options it was
   * written with travel with the event, so the reload writes it with them again.
   */
  async track(entryKey: string, meta: EntryMeta | undefined): Promise<void> {
    await this.start()
    await this.#expirations().track(entryKey, meta ? { value: { t: meta.ttlMs ?? null, g: meta.tags ?? null } } : {})
  }

  async close(): Promise<void> {
    this.#closed = true
    const subscription = await this.#subscription?.catch(() => undefined)
    await subscription?.close()
  }
}

/** The options carried by an expiry event (planted or older events carry none). */
function metaOfEvent(value: unknown): EntryMeta | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const { t, g } = value as { t?: unknown; g?: unknown }
  const ttlMs = typeof t === 'number' && Number.isSafeInteger(t) && t > 0 ? t : undefined
  const tags = Array.isArray(g) && g.every((tag) => typeof tag === 'string') ? (g as string[]) : undefined
  return ttlMs === undefined && tags === undefined ? undefined : { ttlMs, tags }
}
