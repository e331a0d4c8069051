import { randomBytes } from 'node:crypto'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { type CacheParts, freshVersion, type Lease } from './parts.js'
import { scripts } from './scripts.js'
import type { Waiters } from './waiters.js'

/** Returned by the read callback when a stored entry is not usable. */
export const MISS: unique symbol = Symbol('miss')
const FAR_FUTURE = 9e15

export interface AcquireMode {
  /** 'miss': any entry fresh at the start will do. 'refresh': only one created after `createdAfter`. */
  kind: 'miss' | 'refresh'
  createdAfter: number
  /** A background refresh gives up when another process already refreshes the key. */
  background: boolean
}

/** What the caller of a load does next. */
export type Acquired<T> =
  /** A usable value landed meanwhile (or another process's load answered "absent"). */
  | { type: 'value'; value: T | undefined }
  /** The caller holds the lease (and, distributed, the lock): it loads and stores. */
  | { type: 'lease'; lease: Lease; existing: string }
  /** Background refresh only: another process is refreshing the key. */
  | { type: 'busy' }
  /** Another process loaded a value that cannot be cached: load it here, store nothing. */
  | { type: 'unstored' }

/**
 * Grants load leases, and with `stampede: 'distributed'` one load per key across every process:
 * the first caller takes the entry's lock (one script that also returns the entry if it landed
 * meanwhile, and the lease version) and loads; the others wait for its fill message on the cache's
 * channel, bounded by the lock's TTL, then read the value. A loader that dies leaves a lock that
 * expires: a waiter then takes over. A delete, set or invalidation drops the lock and voids the
 * lease; its invalidation message makes the waiters read again.
 */
export class Stampede<T> {
  readonly #parts: CacheParts
  readonly #waiters: Waiters
  readonly #read: (key: string, text: string, epoch: number) => T | undefined | typeof MISS
  readonly #subscribe: () => Promise<unknown>

  constructor(
    parts: CacheParts,
    waiters: Waiters,
    read: (key: string, text: string, epoch: number) => T | undefined | typeof MISS,
    subscribe: () => Promise<unknown>,
  ) {
    this.#parts = parts
    this.#waiters = waiters
    this.#read = read
    this.#subscribe = subscribe
  }

  async acquire(key: string, entryKey: string, mode: AcquireMode): Promise<Acquired<T>> {
    const parts = this.#parts
    const { settings, keys } = parts
    const distributed = settings.distributed
    if (distributed) await this.#subscribe()
    const lockKeys: [string, string, string] = [entryKey, keys.lock(entryKey), keys.version(entryKey)]
    const deadline = Date.now() + settings.loadTimeoutMs + settings.lockTtlMs
    let createdAfter = mode.kind === 'miss' ? FAR_FUTURE : mode.createdAfter
    let freshAt = mode.kind === 'miss' ? Date.now() : FAR_FUTURE
    for (;;) {
      const token = distributed ? randomBytes(12).toString('base64url') : ''
      if (distributed) this.#waiters.expect(key)
      // Read before the script: an invalidation heard while it runs then keeps its reply out of the near cache.
      const epoch = parts.near?.epoch ?? 0
      let reply: Awaited<ReturnType<typeof scripts.lock.run>>
      try {
        reply = await scripts.lock.run(parts.connection, lockKeys, [token, settings.lockTtlMs, createdAfter, freshAt, freshVersion()])
      } catch (error) {
        this.#waiters.cancel(key)
        throw error
      }
      if (reply[0] !== 3) this.#waiters.cancel(key)
      if (reply[0] === 1) {
        const value = this.#read(key, reply[1], epoch)
        if (value !== MISS) {
          // Another caller's load (or refresh) landed it: this miss is coalesced.
          parts.stats.coalesced++
          return { type: 'value', value }
        }
        createdAfter = FAR_FUTURE // undecodable: load over it
        freshAt = FAR_FUTURE
        continue
      }
      if (reply[0] === 2) return { type: 'lease', lease: { version: reply[1], token, grantedAt: performance.now() }, existing: reply[2] }
      if (mode.background) {
        this.#waiters.cancel(key)
        return { type: 'busy' }
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) {
        this.#waiters.cancel(key)
        throw new RedkitError(
          ErrorCodes.E_TIMEOUT,
          `cache ${parts.name}: no value for '${key}' within ${settings.loadTimeoutMs + settings.lockTtlMs} ms`,
        )
      }
      const outcome = await this.#waiters.wait(key, Math.min(reply[1] + 50, remaining))
      if (outcome.type === 'failed')
        throw new RedkitError(ErrorCodes.E_LOAD_FAILED, outcome.message, { details: { cache: parts.name, key } })
      if (outcome.type === 'absent') {
        parts.stats.coalesced++
        return { type: 'value', value: undefined }
      }
      if (outcome.type === 'uncacheable') return { type: 'unstored' }
      if (outcome.type === 'filled' && mode.kind === 'miss') freshAt = Date.now() - 1
    }
  }
}
