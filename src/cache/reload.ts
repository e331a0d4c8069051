import type { RedkitContext } from '../core/context.js'
import { escapeGlob } from '../core/keys.js'
import type { Expirations, Subscription } from '../events/index.js'
import type { CacheKeys } from './cache-keys.js'

/**
 * `reloadOnExpire`: every entry written is adopted by reliable expirations (`track`), and one
 * consumer group per cache (`cache:<name>`) hears each expiry once across the instances and
 * reloads the key. At least once: a reload may run twice for one expiry after a crash.
 */
export class ExpiryReloader {
  readonly #expirations: () => Expirations
  readonly #keys: CacheKeys
  readonly #reload: (key: string) => Promise<unknown>
  #subscription: Promise<Subscription> | undefined
  #closed = false

  constructor(_rk: RedkitContext, expirations: () => Expirations, keys: CacheKeys, reload: (key: string) => Promise<unknown>) {
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
        if (key !== undefined && !this.#closed) await this.#reload(key)
      },
      { group: `cache:${this.#keys.name}` },
    )
    this.#subscription.catch(() => {
      this.#subscription = undefined
    })
    return this.#subscription
  }

  /** Schedules the expiry event of an entry just written with a TTL. */
  async track(entryKey: string): Promise<void> {
    await this.start()
    await this.#expirations().track(entryKey)
  }

  async close(): Promise<void> {
    this.#closed = true
    const subscription = await this.#subscription?.catch(() => undefined)
    await subscription?.close()
  }
}
