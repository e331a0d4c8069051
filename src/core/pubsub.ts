import { ErrorCodes, RedkitError, SecretScrubber, toRedkitError } from './errors.js'

export type SubscriptionKind = 'channel' | 'sharded' | 'pattern'

/** What a subscriber hears. */
export interface PubSubListener {
  /** A message on the channel (for patterns, `channel` is the concrete one). Must not throw. */
  message(message: string, channel: string): void
  /**
   * The subscriber connection was lost (`healthy` false) or is back (`true`): messages published
   * in between were missed, so caches flush and waiters re-check.
   */
  resync?(healthy: boolean): void
}

type RawListener = (message: string, channel: string) => void

/** The part of a node-redis client (standalone, cluster or sentinel) this hub uses. */
export interface PubSubClient {
  subscribe(channel: string, listener: RawListener): Promise<unknown>
  unsubscribe(channel: string, listener?: RawListener): Promise<unknown>
  sSubscribe(channel: string, listener: RawListener): Promise<unknown>
  sUnsubscribe(channel: string, listener?: RawListener): Promise<unknown>
  pSubscribe(pattern: string, listener: RawListener): Promise<unknown>
  pUnsubscribe(pattern: string, listener?: RawListener): Promise<unknown>
  on(event: string, listener: (...args: unknown[]) => void): unknown
  destroy(): unknown
}

interface Entry {
  readonly listeners: Set<PubSubListener>
  readonly raw: RawListener
  ready: Promise<void>
}

/**
 * One subscriber connection per redkit instance, shared by every component (channels, cache
 * invalidation, lock wake-ups, sweeper wake-ups): one Redis subscription per channel whatever the
 * number of listeners. node-redis re-subscribes after a reconnect (on Cluster, sharded channels
 * follow their slot's master); listeners are told when messages may have been missed.
 */
export class PubSub {
  readonly #open: () => Promise<PubSubClient>
  readonly #entries = new Map<string, Entry>()
  #client: Promise<PubSubClient> | undefined
  #healthy = false
  #closed = false

  readonly #scrubber: SecretScrubber

  constructor(open: () => Promise<PubSubClient>, scrubber: SecretScrubber = new SecretScrubber()) {
    this.#open = open
    this.#scrubber = scrubber
  }

  /** True while the subscriber connection is up. */
  get healthy(): boolean {
    return this.#healthy
  }

  /** Subscribes; resolves once Redis confirmed it. Returns the unsubscribe function. */
  async subscribe(kind: SubscriptionKind, channel: string, listener: PubSubListener): Promise<() => Promise<void>> {
    if (this.#closed) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    const id = `${kind}\u0000${channel}`
    let entry = this.#entries.get(id)
    if (!entry) {
      const listeners = new Set<PubSubListener>()
      const created: Entry = {
        listeners,
        raw: (message, concrete) => {
          for (const l of listeners) l.message(message, concrete ?? channel)
        },
        ready: Promise.resolve(),
      }
      created.ready = this.#connect().then(async (client) => {
        if (kind === 'sharded') await client.sSubscribe(channel, created.raw)
        else if (kind === 'pattern') await client.pSubscribe(channel, created.raw)
        else await client.subscribe(channel, created.raw)
      })
      created.ready.catch(() => {
        if (this.#entries.get(id) === created) this.#entries.delete(id)
      })
      this.#entries.set(id, created)
      entry = created
    }
    entry.listeners.add(listener)
    try {
      await entry.ready
    } catch (error) {
      entry.listeners.delete(listener)
      // A channel the ACL denies answers NOPERM: a typed E_PERMISSION naming the channel, never a raw driver error.
      throw toRedkitError(error, this.#scrubber, `cannot subscribe to ${channel}`)
    }
    const subscribed = entry
    return async () => {
      subscribed.listeners.delete(listener)
      if (subscribed.listeners.size > 0 || this.#entries.get(id) !== subscribed) return
      this.#entries.delete(id)
      const client = await this.#client?.catch(() => undefined)
      if (!client || this.#closed) return
      const undo = kind === 'sharded' ? client.sUnsubscribe : kind === 'pattern' ? client.pUnsubscribe : client.unsubscribe
      await undo.call(client, channel, subscribed.raw).catch(() => {})
    }
  }

  #connect(): Promise<PubSubClient> {
    this.#client ??= this.#open().then(
      (client) => {
        this.#healthy = true
        const lost = () => this.#setHealthy(false)
        const back = () => this.#setHealthy(true)
        for (const event of ['error', 'reconnecting', 'node-error', 'node-reconnecting']) client.on(event, lost)
        for (const event of ['ready', 'node-ready']) client.on(event, back)
        return client
      },
      (error: unknown) => {
        this.#client = undefined
        throw error
      },
    )
    return this.#client
  }

  #setHealthy(healthy: boolean): void {
    if (this.#healthy === healthy || this.#closed) return
    this.#healthy = healthy
    for (const entry of this.#entries.values()) for (const l of entry.listeners) l.resync?.(healthy)
  }

  /** Drops every subscription and the connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#healthy = false
    this.#entries.clear()
    const client = await this.#client?.catch(() => undefined)
    this.#client = undefined
    try {
      client?.destroy()
    } catch {
      // already gone
    }
  }
}
