import { withTimeout } from './async.js'
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
  /** Standalone and Sentinel clients answer PING while subscribed; the Cluster client has none. */
  ping?(): Promise<unknown>
  /** False while node-redis reconnects by itself (it resubscribes then). */
  readonly isReady?: boolean
}

interface Entry {
  readonly kind: SubscriptionKind
  readonly channel: string
  readonly listeners: Set<PubSubListener>
  readonly raw: RawListener
  ready: Promise<void>
}

/** How the shared subscriber is checked: a PING every `intervalMs`, stalled after `timeoutMs` without a reply. */
export interface LivenessOptions {
  intervalMs: number
  timeoutMs: number
  /** Told when a stalled subscriber was replaced (its subscriptions moved to a new connection). */
  replaced?(error: RedkitError): void
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
  #liveness: { options: LivenessOptions; timer: NodeJS.Timeout } | undefined
  #checking = false
  /** A replacement could not connect: the subscriptions wait for the next check to be restored. */
  #restorePending = false

  readonly #scrubber: SecretScrubber
  readonly #unsubscribeWaitMs: number

  /** @param unsubscribeWaitMs longest an unsubscribe waits for Redis's reply (the connection's connectTimeoutMs) */
  constructor(open: () => Promise<PubSubClient>, scrubber: SecretScrubber = new SecretScrubber(), unsubscribeWaitMs = 5000) {
    this.#open = open
    this.#scrubber = scrubber
    this.#unsubscribeWaitMs = unsubscribeWaitMs
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
        kind,
        channel,
        listeners,
        raw: (message, concrete) => {
          for (const l of listeners) l.message(message, concrete ?? channel)
        },
        ready: Promise.resolve(),
      }
      created.ready = this.#connect().then(async (client) => {
        await subscribeOn(client, created)
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
      // Bounded: a silent subscriber (a frozen or half-open Redis) answers only once the liveness
      // check replaced it, ~15 s later, and every close() that unsubscribes would wait that long.
      // The listener is already gone here, so nothing reaches it while the reply is outstanding.
      await withTimeout(
        undo.call(client, channel, subscribed.raw).catch(() => {}),
        this.#unsubscribeWaitMs,
        () => undefined,
      )
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
    this.#notify(healthy)
  }

  #notify(healthy: boolean): void {
    for (const entry of this.#entries.values()) for (const l of entry.listeners) l.resync?.(healthy)
  }

  /**
   * Checks the subscriber on a cadence: a connection that stops answering (half-open: no error, no
   * data) would otherwise stop every channel until TCP keepalive notices, minutes later. A PING
   * without a reply within `timeoutMs` replaces the connection, moves every subscription to the
   * new one and tells listeners to resync. Not on Cluster (node-redis's cluster subscriber has no PING).
   */
  startLiveness(options: LivenessOptions): void {
    if (this.#liveness || options.intervalMs <= 0) return
    const timer = setInterval(() => void this.checkLiveness(), options.intervalMs)
    timer.unref()
    this.#liveness = { options, timer }
  }

  /** One liveness check now (the interval calls this). Resolves false when the subscriber was replaced. */
  async checkLiveness(): Promise<boolean> {
    const liveness = this.#liveness
    if (!liveness || this.#checking || this.#closed) return true
    if (this.#restorePending) {
      this.#checking = true
      try {
        await this.#restore()
      } finally {
        this.#checking = false
      }
      return false
    }
    const pending = this.#client
    if (!pending) return true
    const client = await pending.catch(() => undefined)
    // While node-redis reconnects (Redis restarting, a cut), a PING would only wait in its queue:
    // the reconnect resubscribes by itself; a stall is a connection that looks up and is silent.
    if (!client?.ping || client.isReady === false) return true
    this.#checking = true
    let timer: NodeJS.Timeout | undefined
    try {
      const answered = await Promise.race([
        client.ping().then(
          () => true,
          () => true, // an error reply or a closed socket is the reconnect logic's business, not a stall
        ),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), liveness.options.timeoutMs)
        }),
      ])
      if (answered || this.#closed || this.#client !== pending) return true
      await this.#replace(client, liveness.options)
      return false
    } finally {
      clearTimeout(timer)
      this.#checking = false
    }
  }

  async #replace(stalled: PubSubClient, options: LivenessOptions): Promise<void> {
    this.#client = undefined
    this.#setHealthy(false)
    try {
      stalled.destroy()
    } catch {
      // already gone
    }
    const error = new RedkitError(
      ErrorCodes.E_TIMEOUT,
      `the pub/sub connection did not answer a PING within ${options.timeoutMs} ms; replaced, and its subscriptions moved`,
    )
    options.replaced?.(error)
    this.#restorePending = true
    await this.#restore()
  }

  /** A new subscriber with every subscription moved to it; on failure, the next check tries again. */
  async #restore(): Promise<void> {
    try {
      const client = await this.#connect()
      await Promise.all([...this.#entries.values()].map((entry) => subscribeOn(client, entry)))
      this.#restorePending = false
      // #connect marked it healthy before the subscriptions moved: tell the listeners now.
      if (!this.#closed) this.#notify(true)
    } catch {
      // Redis is unreachable: the next check connects again (a subscribe meanwhile connects too).
      const failed = this.#client
      this.#client = undefined
      this.#healthy = false
      void failed?.then((client) => client.destroy()).catch(() => {})
    }
  }

  /** Drops every subscription and the connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#liveness) clearInterval(this.#liveness.timer)
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

function subscribeOn(client: PubSubClient, entry: Entry): Promise<unknown> {
  if (entry.kind === 'sharded') return client.sSubscribe(entry.channel, entry.raw)
  if (entry.kind === 'pattern') return client.pSubscribe(entry.channel, entry.raw)
  return client.subscribe(entry.channel, entry.raw)
}
