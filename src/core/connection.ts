import { EventEmitter } from 'node:events'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import {
  createClient,
  createCluster,
  createSentinel,
  type RedisClientType,
  type RedisClusterType,
  type RedisSentinelType,
  TimeoutError,
} from 'redis'
import { closeClient, withTimeout } from './async.js'
import { backoffDelay } from './backoff.js'
import { ErrorCodes, PERMISSION_DENIED, RedkitError, SecretScrubber, toRedkitError } from './errors.js'
import { PubSub, type PubSubClient } from './pubsub.js'
import { optionsObject, timerMs } from './validate.js'

// biome-ignore lint/suspicious/noExplicitAny: node-redis generics differ per module set; core only uses the raw surface
type AnyClient = RedisClientType<any, any, any, any, any>
// biome-ignore lint/suspicious/noExplicitAny: as above
type AnyCluster = RedisClusterType<any, any, any, any, any>
// biome-ignore lint/suspicious/noExplicitAny: as above
type AnySentinel = RedisSentinelType<any, any, any, any, any>
export type NodeRedisClient = AnyClient | AnyCluster | AnySentinel

export type Topology = 'standalone' | 'cluster' | 'sentinel'

export interface ClusterOptions {
  /** Seed nodes: `redis://host:port` URLs or `{ host, port }`. */
  rootNodes: Array<string | { host: string; port: number }>
  /** ACL user for every node. */
  username?: string
  /** Password for every node. */
  password?: string
  /** TLS for every node (`true` or Node TLS options). */
  tls?: boolean | TlsConnectionOptions
}

export interface SentinelOptions {
  /** The master group name Sentinel monitors. */
  name: string
  sentinels: Array<{ host: string; port: number }>
  /** Credentials for the data nodes. */
  username?: string
  password?: string
  /** Credentials for the Sentinel processes themselves. */
  sentinelUsername?: string
  sentinelPassword?: string
}

export interface ConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url?: string
  cluster?: ClusterOptions
  sentinel?: SentinelOptions
  /** An existing node-redis client, cluster or sentinel. redkit does not close it. */
  client?: NodeRedisClient
  /** Extra TLS options (CA, client certificate) for `rediss://` URLs. */
  tls?: TlsConnectionOptions
  /**
   * How long the first connection may take before createRedkit fails with E_CONNECTION; also the
   * bound on a command issued while the connection is down.
   * @defaultValue 5000
   */
  connectTimeoutMs?: number
  /**
   * How often a PING checks that a quiet-but-open connection still answers (on Cluster: the one to
   * each master), and how long it may take before that connection is replaced (0 disables the check).
   * @defaultValue 5000 and 10_000 (generous: a busy server running a slow script is not a stalled one)
   */
  healthCheckIntervalMs?: number
  healthCheckTimeoutMs?: number
  /** Largest delay between reconnect attempts: also how long recovery can lag once Redis is back. @defaultValue 500 */
  maxReconnectDelayMs?: number
  /**
   * Where the credentials come from when they change (password rotation, short-lived tokens): called
   * before every connection and reconnection, and wins over the URL's or the options' password. When
   * Redis refuses the credentials after the first connection, redkit keeps retrying with backoff
   * (asking this function again each time) and reports `E_AUTH` once per outage.
   */
  credentials?: () => RedisCredentials | Promise<RedisCredentials>
}

/** What a credentials provider returns. */
export interface RedisCredentials {
  username?: string | undefined
  password: string
}

/** Auth failures after the first connection retry no faster than this: a tight loop only floods logs and locks accounts. */
const AUTH_RETRY_MIN_MS = 1000

export interface ReconnectingEvent {
  attempt: number
  delayMs: number
  error: Error
}

export interface ConnectionEvents {
  ready: []
  reconnecting: [ReconnectingEvent]
  error: [RedkitError]
  end: []
}

/** A handle on one master, for commands that must reach every node (CONFIG, SCAN, keyspace events). */
export interface NodeHandle {
  readonly address: string
  send<T = unknown>(args: string[]): Promise<T>
  /** A new dedicated connection to this node (for per-node subscriptions); the caller closes it. */
  duplicate(options?: DuplicateOptions): Promise<AnyClient>
}

export interface DuplicateOptions {
  /**
   * Speak RESP3 and emit `'invalidate'` (key: Buffer, or null for "everything") for the push messages of
   * server-assisted client tracking (`CLIENT TRACKING ON ...`). node-redis then sends a default-mode
   * `CLIENT TRACKING ON` in every handshake; switch modes with `CLIENT TRACKING OFF` first.
   * @defaultValue false
   */
  trackingInvalidations?: boolean
}

export interface SendOptions {
  /** The key that routes the command on Cluster (the first key of the command). */
  key?: string | undefined
  /** Route to a replica when the topology allows it. */
  readonly?: boolean
}

// No per-command timer on the hot path: node-redis arms an AbortSignal.timeout per command unless the
// timeout is 0, which cut GET throughput to 0.15x at concurrency 100 (bench ceiling) and only bounds
// the wait to be written anyway. Waits are bounded by the offline guard in send() and the health check.
const NO_TIMEOUT = { timeout: 0 } as const

/**
 * The only object in redkit that talks to node-redis. Modules send commands through it, ask it for
 * dedicated connections, and never see the topology unless they need every master.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly topology: Topology
  readonly scrubber: SecretScrubber
  #main: NodeRedisClient
  #health: NodeJS.Timeout | undefined
  #checking = false
  readonly #owned: boolean
  readonly #options: ConnectionOptions
  readonly #dedicated = new Set<{ close(): Promise<unknown> | unknown }>()
  readonly #connectTimeoutMs: number
  #closed = false
  #everReady = false
  #pubsub: PubSub | undefined

  private constructor(options: ConnectionOptions, scrubber: SecretScrubber) {
    super()
    this.#options = options
    this.scrubber = scrubber
    this.#connectTimeoutMs = timerMs(options.connectTimeoutMs ?? 5000, 'connectTimeoutMs')
    timerMs(options.healthCheckIntervalMs ?? 5000, 'healthCheckIntervalMs', { allowZero: true })
    timerMs(options.healthCheckTimeoutMs ?? 10_000, 'healthCheckTimeoutMs')
    timerMs(options.maxReconnectDelayMs ?? 500, 'maxReconnectDelayMs')
    if (options.credentials !== undefined && typeof options.credentials !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'credentials must be a function returning { username?, password }')
    const given = [options.url, options.cluster, options.sentinel, options.client].filter((v) => v !== undefined).length
    if (given > 1) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'give only one of url, cluster, sentinel or client')
    if (options.client) {
      this.#main = options.client
      this.#owned = false
      this.topology = detectTopology(options.client)
    } else if (options.cluster) {
      this.topology = 'cluster'
      this.#owned = true
      this.#main = this.#createCluster()
    } else if (options.sentinel) {
      this.topology = 'sentinel'
      this.#owned = true
      this.#main = this.#createSentinel()
    } else {
      this.topology = 'standalone'
      this.#owned = true
      this.#main = this.#createClient(options.url ?? 'redis://127.0.0.1:6379')
    }
    this.#watch(this.#main)
  }

  #watch(client: NodeRedisClient): void {
    client.on('error', (error: unknown) => {
      // node-redis reports every failed reconnect here; surface them scrubbed, never throw. Refused
      // credentials are reported once per outage, by the reconnect policy.
      if (client !== this.#main || this.listenerCount('error') === 0) return
      const clean = toRedkitError(error, this.scrubber, 'redis connection error')
      if (this.#everReady && (clean.code === ErrorCodes.E_AUTH || clean.code === ErrorCodes.E_PERMISSION))
        this.#reportAuthOnce(clean.message)
      else this.emit('error', clean)
    })
    client.on('ready', () => {
      if (client !== this.#main) return
      this.#everReady = true
      this.#authFailing = false
      this.emit('ready')
    })
  }

  /**
   * A server that stops answering while the socket stays open (a frozen process, a half-open
   * connection) raises no socket error, and without per-command timers the commands sent to it
   * would wait forever. One PING per interval, with its own timeout, detects it; the stalled client
   * is then destroyed (its pending commands fail with E_CONNECTION) and replaced by a fresh one.
   * Standalone: the main client. Cluster: each master's client (node-redis opens a new one on the
   * next command to that master). Not Sentinel, whose clients node-redis keeps to itself.
   */
  #startHealthCheck(): void {
    const interval = this.#options.healthCheckIntervalMs ?? 5000
    if (!this.#owned || this.topology === 'sentinel' || interval <= 0) return
    this.#health = setInterval(() => void this.#checkHealth(), interval)
    this.#health.unref()
  }

  async #checkHealth(): Promise<void> {
    if (this.#checking || this.#closed) return
    this.#checking = true
    const timeoutMs = this.#options.healthCheckTimeoutMs ?? 10_000
    try {
      if (this.topology === 'standalone') {
        const client = this.#main as AnyClient
        if (client.isReady && (await stalls(client, timeoutMs)) && !this.#closed && client === this.#main) this.#replaceStalled(timeoutMs)
        return
      }
      await Promise.all(
        (this.#main as AnyCluster).masters.map(async (master) => {
          const client = master.client as AnyClient | undefined
          if (!client?.isReady || !(await stalls(client, timeoutMs)) || this.#closed || master.client !== client) return
          // node-redis keeps this client for the master until told otherwise: forget it, so the next
          // command to this master opens a new one, then fail what the stalled one holds.
          const node = master as { client?: unknown }
          node.client = undefined
          this.#reportStalled(timeoutMs, `${master.host}:${master.port}`)
          client.destroy()
        }),
      )
    } finally {
      this.#checking = false
    }
  }

  #reportStalled(timeoutMs: number, node?: string): void {
    const where = node ? ` (${node})` : ''
    const error = new RedkitError(ErrorCodes.E_TIMEOUT, `Redis${where} did not answer a PING within ${timeoutMs} ms; reconnecting`)
    if (this.listenerCount('error') > 0) this.emit('error', error)
    this.emit('reconnecting', { attempt: 1, delayMs: 0, error })
  }

  #replaceStalled(timeoutMs: number): void {
    const stalled = this.#main
    this.#main = this.#createClient(this.#options.url ?? 'redis://127.0.0.1:6379')
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
      connection.#startHealthCheck()
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

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Sends a raw command. On Cluster, `key` routes it. A command issued while the connection is down
   * is bounded by connectTimeoutMs instead of waiting in the offline queue forever.
   */
  send<T = unknown>(args: string[], options: SendOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed'))
    const commandOptions = this.#main.isReady ? NO_TIMEOUT : { timeout: this.#connectTimeoutMs }
    const main = this.#main as { sendCommand: (...args: unknown[]) => Promise<T> }
    const reply =
      this.topology === 'standalone'
        ? main.sendCommand(args, commandOptions)
        : this.topology === 'cluster'
          ? main.sendCommand(options.key, options.readonly ?? false, args, commandOptions)
          : main.sendCommand(options.readonly ?? false, args, commandOptions)
    return reply.catch((error: unknown) => {
      throw this.#mapError(error, args[0] ?? 'command')
    })
  }

  /**
   * `send` for hot paths (a cache hit): the driver's own promise, without the error-mapping wrapper,
   * so one promise and one closure fewer per command. Errors are the driver's: map them with
   * `mapError`. Closed and offline connections behave as in `send`.
   */
  sendUnmapped<T = unknown>(args: string[], key?: string): Promise<T> {
    if (this.#closed) return Promise.reject(new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed'))
    const commandOptions = this.#main.isReady ? NO_TIMEOUT : { timeout: this.#connectTimeoutMs }
    const main = this.#main as { sendCommand: (...args: unknown[]) => Promise<T> }
    return this.topology === 'standalone'
      ? main.sendCommand(args, commandOptions)
      : this.topology === 'cluster'
        ? main.sendCommand(key, false, args, commandOptions)
        : main.sendCommand(false, args, commandOptions)
  }

  /** Maps an error of `sendUnmapped` (or of the driver) to a RedkitError, scrubbed of secrets. */
  mapError(error: unknown, command: string): RedkitError {
    return this.#mapError(error, command)
  }

  #mapError(error: unknown, command: string): RedkitError {
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
    this.#pubsub ??= new PubSub(async () => (await this.dedicated()) as unknown as PubSubClient, this.scrubber)
    return this.#pubsub
  }

  /** Every master of the topology (one on standalone and Sentinel). */
  masters(): NodeHandle[] {
    if (this.topology === 'cluster') {
      const cluster = this.#main as AnyCluster
      return cluster.masters.map((master) => ({
        address: `${master.host}:${master.port}`,
        send: async <T>(args: string[]) => {
          const client = await cluster.nodeClient(master)
          return (client.sendCommand(args, NO_TIMEOUT) as Promise<T>).catch((error: unknown) => {
            throw this.#mapError(error, args[0] ?? 'command')
          })
        },
        duplicate: async (options?: DuplicateOptions) => {
          const client = await cluster.nodeClient(master)
          return this.#connectNodeDuplicate(client.duplicate(dedicatedOverrides(options)) as AnyClient, `${master.host}:${master.port}`)
        },
      }))
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
          return this.#connectNodeDuplicate((this.#main as AnyClient).duplicate(dedicatedOverrides(options)) as AnyClient, address)
        },
      },
    ]
  }

  /**
   * Connects a per-node duplicate. It gets an 'error' listener before connecting (node-redis emits
   * every failed attempt there, and an unheard 'error' would crash the process; the caller adds its
   * own), and the connect is bounded by connectTimeoutMs: the shared reconnect policy retries forever
   * once the main connection was ready, so a dead node would otherwise hang the caller.
   */
  async #connectNodeDuplicate(client: AnyClient, address: string): Promise<AnyClient> {
    if (this.#closed) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    client.on('error', () => {})
    try {
      await withTimeout(
        client.connect(),
        this.#connectTimeoutMs,
        () => {
          throw new RedkitError(ErrorCodes.E_CONNECTION, `cannot connect to ${address} within ${this.#connectTimeoutMs} ms`)
        },
        { unref: false },
      )
    } catch (error) {
      await closeClient(client, 0)
      throw toRedkitError(error, this.scrubber, `cannot open a connection to ${address}`)
    }
    if (this.#closed) {
      await closeClient(client, 0)
      throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    }
    return this.#track(client)
  }

  /**
   * Cluster: makes node-redis re-read the slot map (CLUSTER SLOTS), so `masters()` reflects masters
   * added, removed or promoted since. node-redis only does this by itself on MOVED replies and
   * reconnect storms, so components that must hear every master call this when they see a change.
   * A no-op on other topologies.
   */
  async refreshTopology(): Promise<void> {
    if (this.topology !== 'cluster' || this.#closed) return
    const cluster = this.#main as AnyCluster
    try {
      await cluster._slots.rediscover()
    } catch (error) {
      throw toRedkitError(error, this.scrubber, 'cluster topology refresh')
    }
  }

  /**
   * A new dedicated connection of the same topology, for subscriptions and blocking commands: it has
   * no command timeout, so a BLMOVE or XREADGROUP BLOCK is never cut by the client. The caller may
   * close it; `close()` closes whatever is still open.
   */
  async dedicated(): Promise<NodeRedisClient> {
    if (this.#closed) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    const duplicate = (this.#main as AnyClient).duplicate(dedicatedOverrides()) as NodeRedisClient
    duplicate.on('error', () => {
      // Reconnects are reported by the main connection; a dedicated one retries on its own.
    })
    try {
      await duplicate.connect()
    } catch (error) {
      throw toRedkitError(error, this.scrubber, 'cannot open a dedicated connection')
    }
    return this.#track(duplicate)
  }

  #track<C extends { close(): Promise<unknown> | unknown; destroy?(): unknown; isOpen?: boolean }>(client: C): C {
    this.#dedicated.add(client)
    const original = client.close.bind(client)
    // A graceful close of a connection that is reconnecting to a dead server would wait for it
    // forever: give in-flight replies 2 s, then destroy.
    client.close = () => {
      this.#dedicated.delete(client)
      return closeClient({ close: original, destroy: () => client.destroy?.(), isOpen: client.isOpen }, 2000)
    }
    return client
  }

  /**
   * Releases the main connection (if redkit created it) and every dedicated one. Replies still in
   * flight get `graceMs` to arrive; then sockets are destroyed, so close() never hangs on a dead
   * server. Idempotent.
   */
  async close({ graceMs = 2000 }: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#health)
    await this.#pubsub?.close()
    const clients: Array<{ close(): Promise<unknown> | unknown; destroy?(): unknown }> = [...this.#dedicated]
    this.#dedicated.clear()
    if (this.#owned) clients.push(this.#main)
    await Promise.all(clients.map((client) => closeClient(client, graceMs)))
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
          `cannot connect to Redis within ${this.#connectTimeoutMs} ms (${this.#lastError ?? 'no answer'})`,
        )
      },
      { unref: false },
    )
    this.#everReady = true
  }

  #lastError: string | undefined
  #authFailing = false

  /**
   * Reconnect policy shared by every connection redkit opens: exponential backoff with jitter, bounded.
   * Refused credentials end the first connection (createRedkit fails with E_AUTH: a typo should not
   * hang). Once connected, they do not end the instance: a rotated password or a changed ACL is
   * retried with a slower backoff until it works again, and reported once per outage.
   */
  reconnectStrategy = (retries: number, cause: Error): number | Error | false => {
    if (this.#closed) return false
    const clean = this.scrubber.sanitize(cause)
    this.#lastError = clean.message
    const auth = /WRONGPASS|NOAUTH|invalid username-password|NOPERM/i.test(clean.message)
    if (auth && !this.#everReady)
      return new RedkitError(ErrorCodes.E_AUTH, `Redis refused the credentials: ${clean.message}`, { cause: clean })
    if (!this.#everReady && /DB index is out of range|invalid DB index/i.test(clean.message))
      return new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `the url's database does not exist on this server: ${clean.message}`, {
        cause: clean,
      })
    if (!this.#everReady && retries > 0 && retries * 50 > this.#connectTimeoutMs)
      return new RedkitError(ErrorCodes.E_CONNECTION, clean.message, { cause: clean })
    const maxDelayMs = this.#options.maxReconnectDelayMs ?? 500
    let delayMs = backoffDelay(retries + 1, { delayMs: 50, maxDelayMs, jitter: 0.3 })
    if (auth) {
      delayMs = Math.max(delayMs, AUTH_RETRY_MIN_MS)
      this.#reportAuthOnce(clean.message)
    }
    if (this.#everReady) this.emit('reconnecting', { attempt: retries + 1, delayMs, error: clean })
    return delayMs
  }

  #reportAuthOnce(message: string): void {
    if (this.#authFailing) return
    this.#authFailing = true
    const error = new RedkitError(
      PERMISSION_DENIED.test(message) ? ErrorCodes.E_PERMISSION : ErrorCodes.E_AUTH,
      `Redis refused the credentials on reconnect: ${message}; retrying every ${AUTH_RETRY_MIN_MS} ms or more (supply new ones with the credentials option)`,
    )
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  /** node-redis's credentials provider, asking the user's function and remembering what it returns as secrets. */
  #credentialsProvider() {
    const provide = this.#options.credentials
    if (!provide) return undefined
    return {
      type: 'async-credentials-provider' as const,
      credentials: async () => {
        const given = await provide()
        if (!given || typeof given.password !== 'string')
          throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'the credentials function must return { username?, password }')
        this.scrubber.add(given.password)
        return { username: given.username, password: given.password }
      },
    }
  }

  #socketOptions(tls?: boolean | TlsConnectionOptions) {
    return {
      connectTimeout: this.#connectTimeoutMs,
      reconnectStrategy: this.reconnectStrategy,
      ...(tls === true ? { tls: true as const } : tls ? { tls: true as const, ...tls } : {}),
    }
  }

  #createClient(url: string): AnyClient {
    validateUrl(url)
    const tls = url.startsWith('rediss://') ? (this.#options.tls ?? true) : undefined
    return createClient({
      url,
      socket: this.#socketOptions(tls),
      commandOptions: NO_TIMEOUT,
      disableClientInfo: true,
      ...(this.#options.credentials ? { credentialsProvider: this.#credentialsProvider() } : {}),
    }) as AnyClient
  }

  #createCluster(): AnyCluster {
    const cluster = this.#options.cluster as ClusterOptions
    if (!Array.isArray(cluster.rootNodes) || cluster.rootNodes.length === 0) {
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'cluster.rootNodes must list at least one node')
    }
    const rootNodes = cluster.rootNodes.map((node) => {
      const url = typeof node === 'string' ? node : `redis://${node.host}:${node.port}`
      validateUrl(url)
      return { url }
    })
    return createCluster({
      rootNodes,
      defaults: {
        username: cluster.username,
        password: cluster.password,
        socket: this.#socketOptions(cluster.tls),
        disableClientInfo: true,
        ...(this.#options.credentials ? { credentialsProvider: this.#credentialsProvider() } : {}),
      },
      commandOptions: NO_TIMEOUT,
    }) as AnyCluster
  }

  #createSentinel(): AnySentinel {
    const sentinel = this.#options.sentinel as SentinelOptions
    return createSentinel({
      name: sentinel.name,
      sentinelRootNodes: sentinel.sentinels,
      nodeClientOptions: {
        username: sentinel.username,
        password: sentinel.password,
        socket: this.#socketOptions(),
        ...(this.#options.credentials ? { credentialsProvider: this.#credentialsProvider() } : {}),
      },
      sentinelClientOptions: { username: sentinel.sentinelUsername, password: sentinel.sentinelPassword, socket: this.#socketOptions() },
      commandOptions: NO_TIMEOUT,
    }) as AnySentinel
  }
}

function dedicatedOverrides(options?: DuplicateOptions) {
  return options?.trackingInvalidations
    ? { commandOptions: NO_TIMEOUT, RESP: 3 as const, emitInvalidate: true }
    : { commandOptions: NO_TIMEOUT }
}

function detectTopology(client: NodeRedisClient): Topology {
  if ('masters' in client && 'nodeClient' in client) return 'cluster'
  if ('acquire' in client && 'use' in client) return 'sentinel'
  return 'standalone'
}

function describeStandalone(client: AnyClient): string {
  const socket = (client.options?.socket ?? {}) as { host?: string; port?: number }
  if (socket.host) return `${socket.host}:${socket.port ?? 6379}`
  try {
    const url = new URL(client.options?.url ?? 'redis://127.0.0.1:6379')
    return `${url.hostname}:${url.port || 6379}`
  } catch {
    return 'redis'
  }
}

function validateUrl(url: unknown): void {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url must start with redis:// or rediss://')
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url is not a valid URL')
  }
  // node-redis would silently read 'redis://' as 127.0.0.1:6379.
  if (parsed.hostname === '') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url names no host (redis://host:port)')
  const db = parsed.pathname.replace(/^\//, '')
  // Redis has 16 databases unless configured otherwise; a non-number would be ignored by node-redis.
  if (db !== '' && !/^\d{1,5}$/.test(db)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `url database '/${db}' is not a number`)
}

function collectSecrets(options: ConnectionOptions, scrubber: SecretScrubber): void {
  if (options.url) {
    try {
      const url = new URL(options.url)
      scrubber.add(decodeURIComponent(url.password))
      scrubber.add(url.password)
    } catch {
      // validateUrl reports it
    }
  }
  scrubber.add(options.cluster?.password)
  scrubber.add(options.sentinel?.password)
  scrubber.add(options.sentinel?.sentinelPassword)
}

/** Whether a PING goes unanswered for `timeoutMs`, by our own timer (node-redis's only covers the write). */
async function stalls(client: AnyClient, timeoutMs: number): Promise<boolean> {
  const answered = client.sendCommand(['PING']).then(
    () => false,
    () => false,
  )
  return withTimeout(answered, timeoutMs, () => true)
}
