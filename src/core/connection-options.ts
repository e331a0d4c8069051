import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { RedisClientType, RedisClusterType, RedisSentinelType } from 'redis'
import { ErrorCodes, RedkitError, type SecretScrubber } from './errors.js'
import { timerMs } from './validate.js'

// biome-ignore lint/suspicious/noExplicitAny: node-redis generics differ per module set; core only uses the raw surface
export type AnyClient = RedisClientType<any, any, any, any, any>
// biome-ignore lint/suspicious/noExplicitAny: as above
export type AnyCluster = RedisClusterType<any, any, any, any, any>
// biome-ignore lint/suspicious/noExplicitAny: as above
export type AnySentinel = RedisSentinelType<any, any, any, any, any>
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
  /** TLS to the Sentinel processes and the data nodes they name (`true` or Node TLS options). */
  tls?: boolean | TlsConnectionOptions
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
export const NO_TIMEOUT = { timeout: 0 } as const

/** Checks everything about the options that does not need a server, before any socket opens. */
export function validateConnectionOptions(options: ConnectionOptions): void {
  timerMs(options.connectTimeoutMs ?? 5000, 'connectTimeoutMs')
  timerMs(options.healthCheckIntervalMs ?? 5000, 'healthCheckIntervalMs', { allowZero: true })
  timerMs(options.healthCheckTimeoutMs ?? 10_000, 'healthCheckTimeoutMs')
  timerMs(options.maxReconnectDelayMs ?? 500, 'maxReconnectDelayMs')
  if (options.credentials !== undefined && typeof options.credentials !== 'function')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'credentials must be a function returning { username?, password }')
  const given = [options.url, options.cluster, options.sentinel, options.client].filter((v) => v !== undefined).length
  if (given > 1) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'give only one of url, cluster, sentinel or client')
}

/** The topology the options ask for; for an existing client, what that client is. */
export function topologyOf(options: ConnectionOptions): Topology {
  if (options.client) return detectTopology(options.client)
  return options.cluster ? 'cluster' : options.sentinel ? 'sentinel' : 'standalone'
}

function detectTopology(client: NodeRedisClient): Topology {
  if ('masters' in client && 'nodeClient' in client) return 'cluster'
  if ('acquire' in client && 'use' in client) return 'sentinel'
  return 'standalone'
}

export function describeStandalone(client: AnyClient): string {
  const socket = (client.options?.socket ?? {}) as { host?: string; port?: number }
  if (socket.host) return `${socket.host}:${socket.port ?? 6379}`
  try {
    const url = new URL(client.options?.url ?? 'redis://127.0.0.1:6379')
    return `${url.hostname}:${url.port || 6379}`
  } catch {
    return 'redis'
  }
}

export function validateUrl(url: unknown): void {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url must start with redis:// or rediss://')
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url is not a valid URL')
  }
  // node-redis decodes them and would throw a raw URIError for a malformed %-escape.
  for (const part of [parsed.username, parsed.password]) {
    try {
      decodeURIComponent(part)
    } catch {
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url has a malformed %-escape in its user name or password')
    }
  }
  // node-redis would silently read 'redis://' as 127.0.0.1:6379.
  if (parsed.hostname === '') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'url names no host (redis://host:port)')
  const db = parsed.pathname.replace(/^\//, '')
  // Redis has 16 databases unless configured otherwise; a non-number would be ignored by node-redis.
  if (db !== '' && !/^\d{1,5}$/.test(db)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `url database '/${db}' is not a number`)
}

export function collectSecrets(options: ConnectionOptions, scrubber: SecretScrubber): void {
  if (options.url) {
    try {
      const url = new URL(options.url)
      scrubber.add(url.password)
      scrubber.add(decodeURIComponent(url.password))
    } catch {
      // validateUrl reports it
    }
  }
  scrubber.add(options.cluster?.password)
  scrubber.add(options.sentinel?.password)
  scrubber.add(options.sentinel?.sentinelPassword)
}
