import { closeClient, withTimeout } from '../core/async.js'
import type { Timer } from '../core/clock.js'
import { Component } from '../core/component.js'
import type { Connection, NodeHandle } from '../core/connection.js'
import { describeValue, ErrorCodes, RedkitError, toRedkitError } from '../core/errors.js'
import { diffMasters, parseClusterSlots, sameSet } from '../core/slot-map.js'
import { NotificationCheck } from './native-check.js'
import type { ExpiryEvent, ExpiryHandler, Subscription } from './types.js'

/**
 * Native mode: Redis keyspace notifications (`__keyevent@<db>__:expired`) heard on every master.
 *
 * What it is: fire-and-forget. Redis publishes `expired` when it gets round to deleting the key
 * (lazily on access, or by its active expire cycle: seconds late under load), to the subscribers
 * connected at that moment only. An event published while a subscriber is disconnected, or before a
 * new master was subscribed, is lost; nothing is retried and nothing is acknowledged. Use reliable
 * mode when every expiry matters.
 *
 * What it does on top of raw SUBSCRIBE: one dedicated connection per master (a Cluster publishes each
 * key's event on the master that owns its slot only), shared by every handler and filtered here by
 * the compiled glob; `notify-keyspace-events` checked and `Ex` enabled on every master (or, where
 * CONFIG is disabled, verified with a probe key); node-redis resubscribes after a reconnect and the
 * configuration is checked again then (a restarted server forgets a CONFIG SET); on Cluster the
 * masters are compared with the slot map every `topologyCheckMs` and the subscriptions follow them.
 */

export { diffMasters, parseClusterSlots, type SlotRange } from '../core/slot-map.js'

export interface NativeOptions {
  /** Handler failures, lost subscriber connections, failed topology checks. Never throws into Redis callbacks. */
  onError(error: unknown): void
  /** Cluster: how often the masters are compared with the subscribed ones (Sentinel: the configuration re-checked). @defaultValue 5000 */
  topologyCheckMs?: number
  /** How long the probe key used where CONFIG is disabled may take to report its expiry. @defaultValue 1000 */
  probeTimeoutMs?: number
}

type NodeClient = Awaited<ReturnType<NodeHandle['duplicate']>>

/** The part of a node-redis client (standalone or Sentinel) a subscriber uses. */
interface SubscriberClient {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>
  close(): Promise<unknown> | unknown
  destroy(): unknown
  on(event: string, listener: (...args: unknown[]) => void): unknown
  readonly isOpen?: boolean
}

interface Listener {
  readonly pattern: RegExp
  readonly handler: ExpiryHandler
  readonly inFlight: Set<Promise<unknown>>
}

interface NodeSubscriber {
  readonly address: string
  readonly node: NodeHandle
  client: SubscriberClient | undefined
  /** False once dropped: late messages and reconnect callbacks are ignored. */
  active: boolean
  /** A disconnect was reported and the configuration must be checked again on the next ready. */
  reconnecting: boolean
}

const DEFAULT_TOPOLOGY_CHECK_MS = 5000
const CLOSE_GRACE_MS = 1000

/** Closed by its Expirations (no host); errors go to the Expirations' sink, named as its own. */
export class NativeExpirySubscriber extends Component {
  readonly #connection: Connection
  readonly #topologyCheckMs: number
  readonly #check: NotificationCheck
  readonly #listeners = new Set<Listener>()
  readonly #nodes = new Map<string, NodeSubscriber>()
  /** Start and release run one at a time, in call order. */
  #lifecycle: Promise<unknown> = Promise.resolve()
  #started = false
  #timer: Timer | undefined
  #checking: Promise<void> | undefined
  /** Masters with a CLUSTER SLOTS still unanswered: not asked again until it answers. */
  readonly #asking = new Set<string>()

  constructor(connection: Connection, options: NativeOptions) {
    const check = options.topologyCheckMs ?? DEFAULT_TOPOLOGY_CHECK_MS
    if (!Number.isSafeInteger(check) || check <= 0)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `topologyCheckMs must be a positive integer, got ${describeValue(check)}`)
    super({ name: 'expirations', scrubber: connection.scrubber, errors: (error) => options.onError(error) })
    this.#connection = connection
    this.#topologyCheckMs = check
    this.#check = new NotificationCheck(connection.topology === 'cluster', options.probeTimeoutMs ?? 1000)
  }

  /** Addresses of the masters currently subscribed (diagnostics and tests). */
  get subscribedMasters(): string[] {
    return [...this.#nodes.keys()]
  }

  /**
   * Calls `handler` for each `expired` keyevent whose key matches `pattern`. The first call subscribes
   * on every master; it fails with E_SERVER_CONFIG when a master does not publish expiry events and
   * redkit may not turn them on.
   */
  async add(pattern: RegExp, handler: ExpiryHandler): Promise<Subscription> {
    this.assertOpen()
    if (!(pattern instanceof RegExp)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'pattern must be a compiled glob (RegExp)')
    if (typeof handler !== 'function') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'handler must be a function')
    const listener: Listener = { pattern, handler, inFlight: new Set() }
    this.#listeners.add(listener)
    try {
      await this.#serial(() => this.#start())
    } catch (error) {
      this.#listeners.delete(listener)
      await this.#releaseIfIdle()
      throw error
    }
    if (this.closed) {
      this.#listeners.delete(listener)
      this.assertOpen()
    }
    let closed = false
    return {
      close: async () => {
        if (closed) return
        closed = true
        this.#listeners.delete(listener)
        await Promise.allSettled([...listener.inFlight])
        await this.#releaseIfIdle()
      },
    }
  }

  /** Releases every connection and the topology timer. Handlers still running are not awaited. Idempotent. */
  override close(): Promise<void> {
    return super.close()
  }

  protected override async teardown(): Promise<void> {
    this.#listeners.clear()
    await this.#serial(() => this.#release())
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#lifecycle.then(step, step)
    this.#lifecycle = run.catch(() => {})
    return run
  }

  #releaseIfIdle(): Promise<void> {
    return this.#serial(async () => {
      if (this.#listeners.size === 0) await this.#release()
    })
  }

  async #start(): Promise<void> {
    if (this.#started || this.closed) return
    if (this.#connection.topology === 'sentinel') {
      await this.#startSentinel()
    } else {
      const masters = this.#connection.masters()
      const results = await Promise.allSettled(masters.map((node) => this.#subscribe(node)))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) {
        await this.#dropAll()
        throw failed.reason
      }
    }
    this.#started = true
    if (this.#connection.topology !== 'standalone') {
      this.#timer = this.clock.setInterval(() => this.#tick(), this.#topologyCheckMs)
      this.#timer.unref()
    }
  }

  async #release(): Promise<void> {
    this.clock.clearInterval(this.#timer)
    this.#timer = undefined
    this.#started = false
    await this.#checking?.catch(() => {})
    await this.#dropAll()
  }

  async #dropAll(): Promise<void> {
    const nodes = [...this.#nodes.values()]
    this.#nodes.clear()
    await Promise.all(nodes.map((sub) => this.#drop(sub)))
  }

  /** Opens the dedicated connection of one master, subscribes, and makes sure the master publishes expirations. */
  async #subscribe(node: NodeHandle): Promise<void> {
    const sub: NodeSubscriber = { address: node.address, node, client: undefined, active: true, reconnecting: false }
    this.#nodes.set(node.address, sub)
    try {
      const client = await node.duplicate()
      sub.client = client as unknown as SubscriberClient
      if (!sub.active) throw new RedkitError(ErrorCodes.E_CLOSED, 'native expiry subscriber is closed')
      this.#watch(sub)
      await sub.client.subscribe(channelFor(this.#connection.topology === 'cluster' ? 0 : databaseOf(client)), (key) =>
        this.#dispatch(key, sub),
      )
      await this.#ensureConfig(sub)
    } catch (error) {
      if (this.#nodes.get(node.address) === sub) this.#nodes.delete(node.address)
      await this.#drop(sub)
      throw error
    }
  }

  /** Sentinel: one dedicated Sentinel-aware connection, which node-redis moves to the new master on failover. */
  async #startSentinel(): Promise<void> {
    const node = this.#connection.masters()[0] as NodeHandle
    const sub: NodeSubscriber = { address: node.address, node, client: undefined, active: true, reconnecting: false }
    this.#nodes.set(node.address, sub)
    try {
      sub.client = (await this.#connection.dedicated()) as unknown as SubscriberClient
      this.#watch(sub)
      await sub.client.subscribe(channelFor(0), (key) => this.#dispatch(key, sub))
      await this.#ensureConfig(sub)
    } catch (error) {
      this.#nodes.delete(node.address)
      await this.#drop(sub)
      throw error
    }
  }

  #watch(sub: NodeSubscriber): void {
    const client = sub.client as SubscriberClient
    client.on('error', (error: unknown) => {
      if (!sub.active || sub.reconnecting) return
      sub.reconnecting = true
      this.report(
        toRedkitError(
          error,
          this.#connection.scrubber,
          `native expiry subscriber on ${sub.address} lost its connection (expirations published meanwhile are missed)`,
        ),
      )
    })
    client.on('reconnecting', () => {
      if (sub.active) sub.reconnecting = true
    })
    client.on('ready', () => {
      if (!sub.active || !sub.reconnecting) return
      sub.reconnecting = false
      // node-redis has resubscribed by itself; a server that restarted has forgotten our CONFIG SET.
      this.#ensureConfig(sub).catch((error) => this.report(error))
    })
  }

  async #drop(sub: NodeSubscriber): Promise<void> {
    sub.active = false
    const client = sub.client
    sub.client = undefined
    if (client) await closeClient(client, CLOSE_GRACE_MS)
  }

  #ensureConfig(sub: NodeSubscriber): Promise<void> {
    return this.#check.ensure(sub.node)
  }

  #dispatch(key: string, sub: NodeSubscriber): void {
    if (this.#check.heard(key) || !sub.active) return
    const firedAt = Date.now()
    for (const listener of this.#listeners) {
      if (!listener.pattern.test(key)) continue
      const event: ExpiryEvent = {
        id: `${key}@${firedAt}`,
        key,
        deadline: undefined,
        firedAt,
        lateMs: undefined,
        attempt: 1,
        mode: 'native',
      }
      try {
        const result = listener.handler(event)
        if (isThenable(result)) {
          const settled = Promise.resolve(result).then(undefined, (error: unknown) => this.report(error))
          listener.inFlight.add(settled)
          settled.finally(() => listener.inFlight.delete(settled))
        }
      } catch (error) {
        this.report(error)
      }
    }
  }

  #tick(): void {
    if (this.#checking || !this.#started) return
    this.#checking = this.#checkTopology()
      .catch((error) => {
        this.report(error)
      })
      .finally(() => {
        this.#checking = undefined
      })
  }

  /** Cluster: follow masters added, removed or promoted. Sentinel: re-check the configuration of the current master. */
  async #checkTopology(): Promise<void> {
    if (this.#connection.topology === 'sentinel') {
      const sub = [...this.#nodes.values()][0]
      if (sub) await this.#ensureConfig(sub)
      return
    }
    const known = this.#connection.masters()
    const reported = await this.#reportedMasters(known)
    if (reported && !sameSet(reported, new Set(known.map((node) => node.address)))) await this.#connection.refreshTopology()
    if (!this.#started) return
    const masters = this.#connection.masters()
    const { added, removed } = diffMasters(
      this.#nodes.keys(),
      masters.map((node) => node.address),
    )
    for (const address of removed) {
      const sub = this.#nodes.get(address)
      this.#nodes.delete(address)
      if (sub) await this.#drop(sub)
    }
    const byAddress = new Map(masters.map((node) => [node.address, node]))
    await Promise.all(
      added.map(async (address) => {
        const node = byAddress.get(address)
        if (!node || !this.#started) return
        // A failure is reported; the next check tries again.
        await this.#subscribe(node).catch((error) => this.report(error))
      }),
    )
  }

  /** The masters the cluster itself reports (CLUSTER SLOTS from the first master that answers), or undefined. */
  async #reportedMasters(known: NodeHandle[]): Promise<Set<string> | undefined> {
    const asks = known
      .filter((node) => !this.#asking.has(node.address))
      .map((node) => {
        this.#asking.add(node.address)
        const reply = node.send<unknown>(['CLUSTER', 'SLOTS'])
        reply
          .finally(() => this.#asking.delete(node.address))
          .catch(() => {
            // An unreachable master: another one answers, or the next check tries again.
          })
        return reply
      })
    if (asks.length === 0) return undefined
    try {
      const reply = await withTimeout(Promise.any(asks), Math.min(this.#topologyCheckMs, 2000), () => undefined, { unref: false })
      return reply === undefined ? undefined : new Set(parseClusterSlots(reply).map((range) => range.master))
    } catch {
      return undefined
    }
  }
}

function channelFor(db: number): string {
  return `__keyevent@${db}__:expired`
}

function databaseOf(client: NodeClient): number {
  const db = (client.options as { database?: number } | undefined)?.database
  return typeof db === 'number' && Number.isSafeInteger(db) && db >= 0 ? db : 0
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
  )
}
