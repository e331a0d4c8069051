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

/**
 * Builds the node-redis clients of a connection, each with the same socket policy (connect timeout,
 * reconnect strategy, TLS), no per-command timeout, and the credentials provider when one is given.
 */
export class ClientFactory {
  readonly #options: ConnectionOptions
  readonly #connectTimeoutMs: number
  readonly #reconnectStrategy: (retries: number, cause: Error) => number | Error | false
  readonly #scrubber: SecretScrubber

  constructor(
    options: ConnectionOptions,
    connectTimeoutMs: number,
    reconnectStrategy: (retries: number, cause: Error) => number | Error | false,
    scrubber: SecretScrubber,
  ) {
    this.#options = options
    this.#connectTimeoutMs = connectTimeoutMs
    this.#reconnectStrategy = reconnectStrategy
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

  cluster(): AnyCluster {
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
        ...this.#credentials(),
      },
      commandOptions: NO_TIMEOUT,
    }) as AnyCluster
  }

  sentinel(): AnySentinel {
    const sentinel = this.#options.sentinel as SentinelOptions
    return createSentinel({
      name: sentinel.name,
      sentinelRootNodes: sentinel.sentinels,
      nodeClientOptions: {
        username: sentinel.username,
        password: sentinel.password,
        socket: this.#socketOptions(),
        ...this.#credentials(),
      },
      sentinelClientOptions: { username: sentinel.sentinelUsername, password: sentinel.sentinelPassword, socket: this.#socketOptions() },
      commandOptions: NO_TIMEOUT,
    }) as AnySentinel
  }

  #socketOptions(tls?: boolean | TlsConnectionOptions) {
    return {
      connectTimeout: this.#connectTimeoutMs,
      reconnectStrategy: this.#reconnectStrategy,
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
