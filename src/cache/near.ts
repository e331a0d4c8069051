import { withTimeout } from '../core/async.js'
import { Component } from '../core/component.js'
import type { NodeHandle } from '../core/connection.js'
import type { RedkitContext } from '../core/context.js'
import { describeValue, ErrorCodes, RedkitError, toRedkitError } from '../core/errors.js'
import type { CacheKeys } from './cache-keys.js'
import { Lru } from './lru.js'

export interface NearOptions {
  /** Entries kept in process memory; the least recently used go first. @defaultValue 10_000 */
  maxEntries?: number
  /** Longest time an entry is served from memory (never beyond its freshness). @defaultValue 60_000 */
  ttlMs?: number
  /**
   * Redis server-assisted client tracking (`CLIENT TRACKING ON BCAST PREFIX`, RESP3, one connection
   * per master): a write by anyone, even `redis-cli SET`, evicts the near copy. Without it (or on
   * Sentinel) only writes made through redkit are heard, by invalidation messages.
   * @defaultValue true
   */
  tracking?: boolean
  /**
   * How often each tracking connection is pinged, and how long a reply may take: a connection that
   * does not answer (half-open) stops the near cache serving from memory and is replaced. The same
   * timer follows Cluster topology changes (masters added, slots moved, a master gone).
   * @defaultValue 1000
   */
  healthCheckMs?: number
}

type TrackingClient = Awaited<ReturnType<NodeHandle['duplicate']>>

interface Tracker {
  readonly address: string
  client: TrackingClient | undefined
  ready: boolean
}

/** Why the near cache dropped entries. */
export type NearFlushReason = 'tracking' | 'message' | 'reconnect' | 'local'

export interface NearHooks {
  /** Keys evicted (undefined: all of them). */
  evicted(keys: string[] | undefined, reason: NearFlushReason): void
  error(error: RedkitError): void
}

/**
 * The in-process tier. Entries are served from memory only while the near cache can hear
 * invalidations (`trusted`): its tracking connections are up (or, without tracking, the pub/sub
 * subscriber is). Losing them clears it; so does their return (what happened meanwhile is unknown).
 *
 * A read that went to Redis stores its result only if no invalidation of that key arrived while
 * the read was in flight (`epoch`), so a late reply never resurrects a value overwritten meanwhile.
 */
export class NearCache extends Component {
  readonly #lru: Lru<unknown>
  readonly #ttlMs: number
  readonly #tracking: boolean
  readonly #rk: RedkitContext
  readonly #keys: CacheKeys
  readonly #hooks: NearHooks
  readonly #trackers = new Map<string, Tracker>()
  readonly #invalidatedAt = new Map<string, number>()
  #epoch = 0
  #floor = 0
  #hubHealthy = false
  #trusted = false
  readonly #healthCheckMs: number
  #timer: NodeJS.Timeout | undefined
  #maintaining = false

  constructor(rk: RedkitContext, keys: CacheKeys, options: NearOptions, hooks: NearHooks) {
    // Closed by its cache, not registered with rk.close() itself.
    super({ name: keys.name, kind: 'near cache', scrubber: rk.connection.scrubber, errors: (error) => hooks.error(error) })
    const maxEntries = options.maxEntries ?? 10_000
    const ttlMs = options.ttlMs ?? 60_000
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `near.maxEntries must be a positive integer, got ${describeValue(maxEntries)}`)
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `near.ttlMs must be a positive integer, got ${describeValue(ttlMs)}`)
    this.#lru = new Lru(maxEntries)
    this.#ttlMs = ttlMs
    this.#rk = rk
    this.#keys = keys
    this.#hooks = hooks
    this.#tracking = (options.tracking ?? true) && rk.topology !== 'sentinel'
    this.#healthCheckMs = options.healthCheckMs ?? 1000
    if (!Number.isSafeInteger(this.#healthCheckMs) || this.#healthCheckMs < 10)
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `near.healthCheckMs must be an integer of at least 10, got ${describeValue(options.healthCheckMs)}`,
      )
  }

  get size(): number {
    return this.#lru.size
  }

  /** Serving from memory right now (invalidations are being heard). */
  get trusted(): boolean {
    return this.#trusted
  }

  /** Whether server-assisted tracking is in use. */
  get tracking(): boolean {
    return this.#tracking
  }

  /** The entry of `key` when trusted and not expired. */
  get(key: string, now: number): { value: unknown; expiresAt: number } | undefined {
    return this.#trusted ? this.#lru.get(key, now) : undefined
  }

  /** Marks the start of a Redis read whose result may be stored here. */
  get epoch(): number {
    return this.#epoch
  }

  /** Stores a value read at `readEpoch` unless the key was invalidated since. */
  store(key: string, value: unknown, freshUntil: number, now: number, readEpoch: number): void {
    if (!this.#trusted) return
    if (readEpoch !== this.#epoch) {
      if (readEpoch < this.#floor) return
      const at = this.#invalidatedAt.get(key)
      if (at !== undefined && at > readEpoch) return
    }
    const expiresAt = Math.min(now + this.#ttlMs, freshUntil)
    if (expiresAt > now) this.#lru.set(key, value, expiresAt)
  }

  invalidate(key: string, reason: NearFlushReason): void {
    this.#epoch++
    this.#invalidatedAt.set(key, this.#epoch)
    if (this.#invalidatedAt.size > 10_000) {
      this.#invalidatedAt.clear()
      this.#floor = this.#epoch
    }
    if (this.#lru.delete(key)) this.#hooks.evicted([key], reason)
  }

  flush(reason: NearFlushReason): void {
    this.#epoch++
    this.#invalidatedAt.clear()
    this.#floor = this.#epoch
    const had = this.#lru.size
    this.#lru.clear()
    if (had > 0) this.#hooks.evicted(undefined, reason)
  }

  /** The pub/sub subscriber went down or came back. */
  hubChanged(healthy: boolean): void {
    this.#hubHealthy = healthy
    this.#recompute('reconnect')
  }

  /** Opens the tracking connections (when enabled). Entries are served once they are up. */
  async start(): Promise<void> {
    if (!this.#tracking) {
      this.#recompute('reconnect')
      return
    }
    this.#timer = setInterval(() => void this.#maintain(), this.#healthCheckMs)
    this.#timer.unref()
    await this.syncMasters()
  }

  /**
   * node-redis's cluster client emits no 'ready' after a topology change, and a half-open
   * connection never errors: both are found here, on a timer.
   */
  async #maintain(): Promise<void> {
    if (this.#maintaining || this.closed) return
    this.#maintaining = true
    try {
      await this.syncMasters()
      await Promise.all([...this.#trackers.values()].map((tracker) => this.#ping(tracker)))
    } catch (error) {
      this.report(error, 'client tracking')
    } finally {
      this.#maintaining = false
    }
  }

  async #ping(tracker: Tracker): Promise<void> {
    const client = tracker.client as unknown as { sendCommand(args: string[]): Promise<unknown>; destroy?(): void } | undefined
    if (!client || !tracker.ready) return
    const answered = await withTimeout(
      client.sendCommand(['PING']).then(
        () => true,
        () => false,
      ),
      this.#healthCheckMs,
      () => false,
    )
    if (answered || this.closed || this.#trackers.get(tracker.address) !== tracker) return
    // Invalidations may be lost on it: stop serving, and replace it (the next round tracks the master again).
    tracker.ready = false
    this.#trackers.delete(tracker.address)
    this.#recompute('reconnect')
    try {
      client.destroy?.()
    } catch {
      // Already gone.
    }
  }

  /** Opens tracking on masters not tracked yet and drops masters that are gone (Cluster topology changes). */
  async syncMasters(): Promise<void> {
    if (!this.#tracking || this.closed) return
    const masters = this.#rk.connection.masters()
    const seen = new Set(masters.map((m) => m.address))
    for (const [address, tracker] of this.#trackers) {
      if (seen.has(address)) continue
      this.#trackers.delete(address)
      void Promise.resolve(tracker.client?.close()).catch(() => {})
    }
    const fresh = masters.filter((m) => !this.#trackers.has(m.address))
    // #track records each new master at once (not ready): a master the client has just learnt of
    // (slots moved to it) stops the near cache serving, and flushes it, before its tracking is set
    // up; writes made there meanwhile were heard by no one.
    const tracking = Promise.all(fresh.map((m) => this.#track(m)))
    if (fresh.length > 0) this.#recompute('reconnect')
    await tracking
    this.#recompute('reconnect')
  }

  async #track(node: NodeHandle): Promise<void> {
    const tracker: Tracker = { address: node.address, client: undefined, ready: false }
    this.#trackers.set(node.address, tracker)
    try {
      const client = await node.duplicate({ trackingInvalidations: true })
      if (this.closed || this.#trackers.get(node.address) !== tracker) {
        await Promise.resolve(client.close()).catch(() => {})
        return
      }
      tracker.client = client
      const events = client as unknown as { on(event: string, listener: (...args: unknown[]) => void): unknown }
      events.on('invalidate', (key: unknown) => this.#onInvalidate(key))
      const lost = () => {
        if (!tracker.ready) return
        tracker.ready = false
        this.#recompute('reconnect')
      }
      events.on('error', lost)
      events.on('reconnecting', lost)
      events.on('ready', () => {
        if (tracker.ready || this.closed) return
        // node-redis re-ran its handshake with a default-mode CLIENT TRACKING ON: switch back to BCAST.
        this.#enable(tracker).catch((error: unknown) => this.report(error, 'client tracking'))
      })
      await this.#enable(tracker)
    } catch (error) {
      if (this.#trackers.get(node.address) === tracker) this.#trackers.delete(node.address)
      throw toRedkitError(error, this.#rk.connection.scrubber, `cannot enable client tracking on ${node.address}`)
    }
  }

  async #enable(tracker: Tracker): Promise<void> {
    const client = tracker.client as unknown as { sendCommand(args: string[]): Promise<unknown> }
    await client.sendCommand(['CLIENT', 'TRACKING', 'OFF'])
    await client.sendCommand(['CLIENT', 'TRACKING', 'ON', 'BCAST', 'PREFIX', this.#keys.entryPrefix])
    tracker.ready = true
    this.#recompute('reconnect')
  }

  #onInvalidate(raw: unknown): void {
    if (raw === null || raw === undefined) {
      this.flush('tracking')
      return
    }
    const redisKey = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)
    const key = this.#keys.keyOf(redisKey)
    if (key !== undefined) this.invalidate(key, 'tracking')
  }

  #recompute(reason: NearFlushReason): void {
    let trusted: boolean
    if (this.closed) trusted = false
    else if (this.#tracking) {
      // Every master of the current topology must be tracked: a key on an untracked one would go unheard.
      const masters = this.#rk.connection.masters()
      trusted = masters.length > 0 && masters.every((master) => this.#trackers.get(master.address)?.ready === true)
    } else trusted = this.#hubHealthy
    if (trusted !== this.#trusted) {
      this.#trusted = trusted
      this.flush(reason)
    }
  }

  protected override async teardown(): Promise<void> {
    clearInterval(this.#timer)
    this.#recompute('local')
    const trackers = [...this.#trackers.values()]
    this.#trackers.clear()
    await Promise.all(trackers.map((t) => Promise.resolve(t.client?.close()).catch(() => {})))
  }
}
