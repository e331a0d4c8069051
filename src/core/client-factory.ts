import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { createClient, createCluster, createSentinel } from 'redis'
import {
  type AnyClient,
  type AnyCluster,
  type AnySentinel,
  type ClusterOptions,
  type ConnectionOptions,
  type DuplicateOptions,
  NO_TIMEOUT,
  type SentinelOptions,
  validateUrl,
} from './connection-options.js'
import { ErrorCodes, RedkitError, type SecretScrubber } from './errors.js'
import type { ReconnectPolicy } from './reconnect-policy.js'

/**
 * Builds the node-redis clients of a connection, each with the same socket policy (connect timeout,
 * reconnect strategy, TLS), no per-command timeout, and the credentials provider when one is given.
 */
export class ClientFactory {
  readonly #options: ConnectionOptions
  readonly #connectTimeoutMs: number
  readonly #policy: Pick<ReconnectPolicy, 'strategy' | 'nodeStrategy'>
  readonly #scrubber: SecretScrubber

  constructor(
    options: ConnectionOptions,
    connectTimeoutMs: number,
    policy: Pick<ReconnectPolicy, 'strategy' | 'nodeStrategy'>,
    scrubber: SecretScrubber,
  ) {
    this.#options = options
    this.#connectTimeoutMs = connectTimeoutMs
    this.#policy = policy
    this.#scrubber = scrubber
  }

  standalone(url: string): AnyClient {
    validateUrl(url)
    const tls = url.startsWith('rediss://') ? (this.#options.tls ?? true) : undefined
    return createClient({
      url,
      socket: this.#socketOptions(tls),
      commandOptions: NO_TIMEOUT,
      disableClientInfo: true,
      ...this.#credentials(),
    }) as AnyClient
  }

  /**
   * The main Cluster client. It connects to a node only when a command needs it
   * (`minimizeConnections`), so neither opening nor a slot-map refresh waits on a dead master, and a
   * node's client refuses to queue while it reconnects (`disableOfflineQueue`): the Connection's
   * retry loop then refreshes the slot map and resends, bounded by connectTimeoutMs, instead of the
   * command waiting for a node that may never return.
   */
  cluster(): AnyCluster {
    const cluster = this.#options.cluster as ClusterOptions
    if (!Array.isArray(cluster.rootNodes) || cluster.rootNodes.length === 0) {
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'cluster.rootNodes must list at least one node')
    }
    // node-redis asks one root node (picked at random) for the slot map, and a frozen one never
    // answers nor errors. A connect timeout (it covers the TLS handshake a frozen node never ends)
    // and an idle timeout on that short-lived client make it give up in time for the next root node
    // to answer within connectTimeoutMs.
    const discoveryMs = Math.max(200, Math.floor(this.#connectTimeoutMs / 2))
    const rootNodes = cluster.rootNodes.map((node) => {
      const url = typeof node === 'string' ? node : `redis://${node.host}:${node.port}`
      validateUrl(url)
      return { url, socket: { connectTimeout: discoveryMs, socketTimeout: discoveryMs } }
    })
    return createCluster({
      rootNodes,
      minimizeConnections: true,
      defaults: { ...this.#clusterNodeDefaults(this.#policy.nodeStrategy), disableOfflineQueue: true },
      commandOptions: NO_TIMEOUT,
    }) as AnyCluster
  }

  /**
   * Overrides for a dedicated duplicate of the Cluster client (subscriptions, blocking reads): lazy
   * connections too, but its node clients keep reconnecting and queue meanwhile, as a subscriber must
   * (its owner bounds its waits and drops it when stalled).
   */
  clusterDuplicate(options?: DuplicateOptions) {
    return { ...dedicatedOverrides(options), minimizeConnections: true, defaults: this.#clusterNodeDefaults(this.#policy.strategy) }
  }

  #clusterNodeDefaults(reconnectStrategy: (retries: number, cause: Error) => number | Error | false) {
    const cluster = this.#options.cluster as ClusterOptions
    return {
      username: cluster.username,
      password: cluster.password,
      socket: this.#socketOptions(cluster.tls, reconnectStrategy),
      disableClientInfo: true,
      ...this.#credentials(),
    }
  }

  sentinel(): AnySentinel {
    const sentinel = this.#options.sentinel as SentinelOptions
    return createSentinel({
      name: sentinel.name,
      sentinelRootNodes: sentinel.sentinels,
      nodeClientOptions: {
        username: sentinel.username,
        password: sentinel.password,
        socket: this.#socketOptions(sentinel.tls),
        ...this.#credentials(),
      },
      sentinelClientOptions: {
        username: sentinel.sentinelUsername,
        password: sentinel.sentinelPassword,
        socket: this.#socketOptions(sentinel.tls),
      },
      commandOptions: NO_TIMEOUT,
    }) as AnySentinel
  }

  #socketOptions(tls?: boolean | TlsConnectionOptions, reconnectStrategy = this.#policy.strategy) {
    return {
      connectTimeout: this.#connectTimeoutMs,
      reconnectStrategy,
      ...(tls === true ? { tls: true as const } : tls ? { tls: true as const, ...tls } : {}),
    }
  }

  /** node-redis's credentials provider, asking the user's function and remembering what it returns as secrets. */
  #credentials() {
    const provide = this.#options.credentials
    if (!provide) return {}
    return {
      credentialsProvider: {
        type: 'async-credentials-provider' as const,
        credentials: async () => {
          const given = await provide()
          if (!given || typeof given.password !== 'string')
            throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'the credentials function must return { username?, password }')
          this.#scrubber.add(given.password)
          return { username: given.username, password: given.password }
        },
      },
    }
  }
}

/** What a dedicated or per-node duplicate overrides of the main client's options. */
export function dedicatedOverrides(options?: DuplicateOptions) {
  return options?.trackingInvalidations
    ? { commandOptions: NO_TIMEOUT, RESP: 3 as const, emitInvalidate: true }
    : { commandOptions: NO_TIMEOUT }
}
