import { EventEmitter } from 'node:events'
import { ErrorReply, TimeoutError } from 'redis'
import { closeClient, withTimeout } from './async.js'
import { ClientFactory, dedicatedOverrides } from './client-factory.js'
import { sleep } from './clock.js'
import { clusterRetryDelayMs, clusterRetryOf, forgetClosedNodeClients, withNodeClients } from './cluster-retry.js'
import { clusterMasterHandles, rediscoverSlots } from './cluster-topology.js'
import {
  type AnyClient,
  type AnyCluster,
  type ConnectionEvents,
  type ConnectionOptions,
  collectSecrets,
  type DuplicateOptions,
  describeStandalone,
  NO_TIMEOUT,
  type NodeHandle,
  type NodeRedisClient,
  type SendOptions,
  type Topology,
  topologyOf,
  validateConnectionOptions,
} from './connection-options.js'
import { DedicatedClients } from './dedicated-clients.js'
import { ErrorCodes, RedkitError, SecretScrubber, toRedkitError } from './errors.js'
import { HealthCheck } from './health-check.js'
import { InflightBound } from './inflight-bound.js'
import { PubSub, type PubSubClient } from './pubsub.js'
import { ReconnectPolicy } from './reconnect-policy.js'
import { optionsObject } from './validate.js'

export type {
  ClusterOptions,
  ConnectionEvents,
  ConnectionOptions,
  DuplicateOptions,
  NodeHandle,
  NodeRedisClient,
  ReconnectingEvent,
  RedisCredentials,
  SendOptions,
  SentinelOptions,
  Topology,
} from './connection-options.js'

/**
 * The only object in redkit that talks to node-redis. Modules send commands through it, ask it for
 * dedicated connections, and never see the topology unless they need every master. Creating the
 * clients, the reconnect policy and the stalled-server check live in their own files; this one
 * routes commands, hands out dedicated connections and closes everything.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly topology: Topology
  readonly scrubber: SecretScrubber
  #main: NodeRedisClient
  readonly #owned: boolean
  readonly #options: ConnectionOptions
  readonly #clients: DedicatedClients
  readonly #connectTimeoutMs: number
  readonly #reconnect: ReconnectPolicy
  readonly #factory: ClientFactory
  readonly #health: HealthCheck
  #closed = false
  #everReady = false
  #pubsub: PubSub | undefined
  readonly #inflight: InflightBound
  #sibling: Promise<Connection> | undefined

  private constructor(options: ConnectionOptions, scrubber: SecretScrubber) {
    super()
    validateConnectionOptions(options)
    this.#options = options
    this.scrubber = scrubber
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000
    this.#clients = new DedicatedClients(this.#connectTimeoutMs, scrubber, () => this.#closed)
    // Twice the connect bound: a command may legitimately wait on a node that is busy for a while
    // (CLIENT PAUSE, a long script elsewhere), and a reply cut short is a command that may still
    // run there with nobody to hear its result.
    this.#inflight = new InflightBound(2 * this.#connectTimeoutMs)
    this.#reconnect = new ReconnectPolicy({
      scrubber,
      connectTimeoutMs: this.#connectTimeoutMs,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 500,
      everReady: () => this.#everReady,
      closed: () => this.#closed,
      reconnecting: (event) => this.emit('reconnecting', event),
      error: (error) => this.#emitError(error),
    })
    this.#factory = new ClientFactory(options, this.#connectTimeoutMs, this.#reconnect, scrubber)
    this.topology = topologyOf(options)
    this.#health = new HealthCheck(
      {
        topology: this.topology,
        main: () => this.#main,
        closed: () => this.#closed,
        replaceMain: (timeoutMs) => this.#replaceStalled(timeoutMs),
        stalled: (timeoutMs, node) => this.#reportStalled(timeoutMs, node),
      },
      options.healthCheckTimeoutMs ?? 10_000,
    )
    this.#owned = !options.client
    if (options.client) this.#main = options.client
    else if (options.cluster) this.#main = this.#factory.cluster()
    else if (options.sentinel) this.#main = this.#factory.sentinel()
    else this.#main = this.#factory.standalone(options.url ?? 'redis://127.0.0.1:6379')
    this.#watch(this.#main)
  }

  #emitError(error: RedkitError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  #watch(client: NodeRedisClient): void {
    client.on('error', (error: unknown) => {
      // node-redis reports every failed reconnect here; surface them scrubbed, never throw. Refused
      // credentials are reported once per outage, by the reconnect policy.
      if (client !== this.#main || this.listenerCount('error') === 0) return
      const clean = toRedkitError(error, this.scrubber, 'redis connection error')
      if (this.#everReady && (clean.code === ErrorCodes.E_AUTH || clean.code === ErrorCodes.E_PERMISSION))
        this.#reconnect.reportAuthOnce(clean.message)
      else this.emit('error', clean)
    })
    client.on('ready', () => {
      if (client !== this.#main) return
      this.#everReady = true
      this.#reconnect.recovered()
      this.emit('ready')
    })
  }

  #reportStalled(timeoutMs: number, node?: string): void {
    const where = node ? ` (${node})` : ''
    const error = new RedkitError(ErrorCodes.E_TIMEOUT, `Redis${where} did not answer a PING within ${timeoutMs} ms; reconnecting`)
    this.#emitError(error)
    this.emit('reconnecting', { attempt: 1, delayMs: 0, error })
  }

  #replaceStalled(timeoutMs: number): void {
    const stalled = this.#main
    this.#main = this.#factory.standalone(this.#options.url ?? 'redis://127.0.0.1:6379')
    this.#watch(this.#main)
    this.#reportStalled(timeoutMs)
    try {
      stalled.destroy()
    } catch {
      // already gone
    }
    this.#main.connect().catch(() => {
      // The reconnect policy keeps trying; commands meanwhile are bounded by connectTimeoutMs.
    })
  }

  /** Creates the connection and waits until it is ready (or fails with E_CONNECTION / E_AUTH in bounded time). */
  static async open(options: ConnectionOptions): Promise<Connection> {
    optionsObject(options, 'options')
    const scrubber = new SecretScrubber()
    collectSecrets(options, scrubber)
    const connection = new Connection(options, scrubber)
    try {
      await connection.#connect()
      if (connection.#owned) connection.#health.start(options.healthCheckIntervalMs ?? 5000)
    } catch (error) {
      // A handshake that never got an answer would make a graceful close wait forever.
      await connection.close({ graceMs: 0 }).catch(() => {})
      throw toRedkitError(error, scrubber, 'cannot connect to Redis')
    }
    return connection
  }

  get client(): NodeRedisClient {
    return this.#main
  }

  get isReady(): boolean {
    return this.#main.isReady
  }

  /** How long a command may wait for a connection (and, on Cluster, for its reply). */
  get connectTimeoutMs(): number {
    return this.#connectTimeoutMs
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Sends a raw command. On Cluster, `key` routes it. A command issued while the connection is down
   * is bounded by connectTimeoutMs instead of waiting in the offline queue forever. On Cluster, a
   * command Redis did not run (TRYAGAIN, CLUSTERDOWN, a node that is down) is resent after a slot-map
   * refresh until connectTimeoutMs has passed, so a failover or a migration step is invisible to callers.
   */
  send<T = unknown>(args: string[], options: SendOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed'))
    if (this.topology === 'cluster') return this.#sendCluster<T>(args, options.key, options.readonly ?? false)
    const commandOptions = this.#main.isReady ? NO_TIMEOUT : { timeout: this.#connectTimeoutMs }
    const main = this.#main as { sendCommand: (...args: unknown[]) => Promise<T> }
    const reply =
      this.topology === 'standalone'
        ? main.sendCommand(args, commandOptions)
        : main.sendCommand(options.readonly ?? false, args, commandOptions)
    return reply.catch((error: unknown) => {
      throw this.#mapError(error, args[0] ?? 'command')
    })
  }

  /**
   * `send` for hot paths (a cache hit): the driver's own promise, without the error-mapping wrapper,
   * so one promise and one closure fewer per command. Errors are the driver's: map them with
   * `mapError`. Closed and offline connections behave as in `send`; Cluster takes `send`'s path.
   */
  sendUnmapped<T = unknown>(args: string[], key?: string): Promise<T> {
    if (this.#closed) return Promise.reject(new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed'))
    if (this.topology === 'cluster') return this.#sendCluster<T>(args, key, false)
    const commandOptions = this.#main.isReady ? NO_TIMEOUT : { timeout: this.#connectTimeoutMs }
    const main = this.#main as { sendCommand: (...args: unknown[]) => Promise<T> }
    return this.topology === 'standalone' ? main.sendCommand(args, commandOptions) : main.sendCommand(false, args, commandOptions)
  }

  async #sendCluster<T>(args: string[], key: string | undefined, readonly: boolean): Promise<T> {
    const cluster = this.#main as unknown as { sendCommand: (...args: unknown[]) => Promise<T> }
    // node-redis's timeout covers a command still queued; the in-flight bound covers one a node took
    // and never answers (a frozen master): cut at twice connectTimeoutMs, not resent (it may yet run there).
    const commandOptions = { timeout: this.#connectTimeoutMs }
    const deadline = Date.now() + this.#connectTimeoutMs
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#inflight.run(cluster.sendCommand(key, readonly, args, commandOptions), () => {
          this.refreshTopology().catch(() => {})
          return new RedkitError(
            ErrorCodes.E_CONNECTION,
            `${args[0] ?? 'command'}: no reply within ${2 * this.#connectTimeoutMs} ms from the node serving this key (it may still run there)`,
          )
        })
      } catch (error) {
        if (error instanceof RedkitError) throw error
        const retry = clusterRetryOf(error)
        const leftMs = deadline - Date.now()
        if (retry === undefined || this.#closed || leftMs <= 0) throw this.#mapError(error, args[0] ?? 'command')
        if (retry === 'refresh') {
          forgetClosedNodeClients(this.#main as AnyCluster)
          this.refreshTopology().catch(() => {
            // The next attempt asks again; its failure is the caller's error.
          })
        }
        await sleep(Math.min(clusterRetryDelayMs(attempt), leftMs))
      }
    }
  }

  /** Maps an error of `sendUnmapped` (or of the driver) to a RedkitError, scrubbed of secrets. */
  mapError(error: unknown, command: string): RedkitError {
    return this.#mapError(error, command)
  }

  #mapError(error: unknown, command: string): RedkitError {
    // A command still pending when redkit closed fails however the driver tears it down (on
    // Sentinel with a frozen primary, a TypeError from inside node-redis): say what happened.
    if (this.#closed && !(error instanceof ErrorReply))
      return new RedkitError(ErrorCodes.E_CLOSED, `${command}: redkit closed before the reply arrived`, {
        cause: this.scrubber.sanitize(error),
      })
    if (error instanceof TimeoutError) {
      return new RedkitError(
        ErrorCodes.E_CONNECTION,
        `${command}: Redis is unreachable (no connection within ${this.#connectTimeoutMs} ms)`,
        {
          cause: this.scrubber.sanitize(error),
        },
      )
    }
    return toRedkitError(error, this.scrubber, command)
  }

  /**
   * The shared subscriber: one dedicated connection for every component's pub/sub (channels,
   * invalidations, wake-ups), opened on first use and closed with the connection.
   */
  get pubsub(): PubSub {
    if (!this.#pubsub) {
      this.#pubsub = new PubSub(async () => (await this.dedicated()) as unknown as PubSubClient, this.scrubber, this.#connectTimeoutMs)
      // The subscriber is checked on the health check's cadence (issue 11 bug 10): a half-open one
      // would silence every channel until TCP keepalive notices.
      this.#pubsub.startLiveness({
        intervalMs: this.#options.healthCheckIntervalMs ?? 5000,
        timeoutMs: this.#options.healthCheckTimeoutMs ?? 10_000,
        replaced: (error) => {
          this.#emitError(error)
          this.emit('reconnecting', { attempt: 1, delayMs: 0, error })
        },
      })
    }
    return this.#pubsub
  }

  /** Every master of the topology (one on standalone and Sentinel). */
  masters(): NodeHandle[] {
    if (this.topology === 'cluster') {
      return clusterMasterHandles(this.#main as AnyCluster, {
        mapError: (error, command) => this.#mapError(error, command),
        connect: (client, what) => this.#clients.connect(client, what),
      })
    }
    const address =
      this.topology === 'standalone' ? describeStandalone(this.#main as AnyClient) : `sentinel:${this.#options.sentinel?.name ?? 'master'}`
    return [
      {
        address,
        send: <T>(args: string[]) => this.send<T>(args),
        duplicate: async (options?: DuplicateOptions) => {
          if (this.topology === 'sentinel') {
            throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'per-node connections are not available on Sentinel; use dedicated()')
          }
          return this.#clients.connect((this.#main as AnyClient).duplicate(dedicatedOverrides(options)) as AnyClient, `to ${address}`)
        },
      },
    ]
  }

  /**
   * Cluster: makes node-redis re-read the slot map (CLUSTER SLOTS), so `masters()` reflects masters
   * added, removed or promoted since. node-redis only does this by itself on MOVED replies and
   * reconnect storms, so components that must hear every master call this when they see a change.
   * A no-op on other topologies.
   */
  async refreshTopology(): Promise<void> {
    if (this.topology !== 'cluster' || this.#closed) return
    await rediscoverSlots(this.#main as AnyCluster, this.#options.cluster?.rootNodes, this.#connectTimeoutMs, this.scrubber)
  }

  /**
   * A new dedicated connection of the same topology, for subscriptions and blocking commands: it has
   * no command timeout, so a BLMOVE or XREADGROUP BLOCK is never cut by the client. The caller may
   * close it; `close()` closes whatever is still open.
   */
  async dedicated(): Promise<NodeRedisClient> {
    if (this.#closed) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    const overrides = this.topology === 'cluster' ? this.#factory.clusterDuplicate() : dedicatedOverrides()
    // Bounded: once the main connection was ready the reconnect policy retries for ever, and a
    // dedicated connection to a node that is gone would otherwise hang its owner (a stream reader).
    // Reconnects are reported by the main connection; a dedicated one retries on its own.
    return this.#clients.connect((this.#main as AnyClient).duplicate(overrides) as NodeRedisClient, 'for a dedicated connection')
  }

  /**
   * A second connection of the same topology and options, shared by every durable writer and
   * closed with this one: WAIT blocks the connection it runs on, so it must not be the shared one.
   */
  sibling(): Promise<Connection> {
    this.#sibling ??= this.#openSibling().catch((error: unknown) => {
      this.#sibling = undefined
      throw error
    })
    return this.#sibling
  }

  async #openSibling(): Promise<Connection> {
    if (this.#closed) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    // A client the application gave is not ours to copy options from: its duplicate is, and is
    // closed with this connection (a Connection over a given client never closes that client).
    const duplicate = this.#options.client?.duplicate() as NodeRedisClient | undefined
    if (duplicate) this.#clients.add(duplicate)
    const sibling = await Connection.open(duplicate ? { ...this.#options, client: duplicate } : this.#options)
    this.#clients.add(sibling)
    if (this.#closed) {
      await sibling.close({ graceMs: 0 })
      throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    }
    return sibling
  }

  /**
   * Releases the main connection (if redkit created it) and every dedicated one. Replies still in
   * flight get `graceMs` (at most 2 s, and no longer than connectTimeoutMs) to arrive; then sockets
   * are destroyed, so close() never hangs on a dead or frozen server. Idempotent.
   */
  async close({ graceMs = this.#clients.graceMs }: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#health.stop()
    this.#inflight.stop()
    const clients = this.#clients.takeAll()
    if (this.#owned) clients.push(this.#main)
    // In parallel: each part waits at most its grace for a frozen node, and the waits must not add up.
    await Promise.all([
      this.#pubsub?.close(),
      ...clients.map((client) =>
        client instanceof Connection ? client.close({ graceMs }) : closeClient(withNodeClients(client), graceMs),
      ),
    ])
    this.emit('end')
  }

  async #connect(): Promise<void> {
    if (this.#main.isOpen) {
      if (!this.#main.isReady) await new Promise<void>((resolve) => this.#main.once('ready', () => resolve()))
      this.#everReady = true
      return
    }
    await withTimeout(
      this.#main.connect() as Promise<unknown>,
      this.#connectTimeoutMs,
      () => {
        throw new RedkitError(
          ErrorCodes.E_CONNECTION,
          `cannot connect to Redis within ${this.#connectTimeoutMs} ms (${this.#reconnect.lastError ?? 'no answer'})`,
        )
      },
      { unref: false },
    )
    this.#everReady = true
  }
}
