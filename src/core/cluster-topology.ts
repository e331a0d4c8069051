import { withTimeout } from './async.js'
import { dedicatedOverrides } from './client-factory.js'
import { clusterRetryOf, forgetClosedNodeClients } from './cluster-retry.js'
import {
  type AnyClient,
  type AnyCluster,
  type ClusterOptions,
  type DuplicateOptions,
  NO_TIMEOUT,
  type NodeHandle,
} from './connection-options.js'
import { ErrorCodes, RedkitError, type SecretScrubber, toRedkitError } from './errors.js'

/** What the handles need from their Connection: its error mapping and its bounded, tracked connects. */
export interface HandleHost {
  mapError(error: unknown, command: string): RedkitError
  connect(client: AnyClient, what: string): Promise<AnyClient>
}

/** One handle per master node-redis knows now: commands to that node, and duplicates of its client. */
export function clusterMasterHandles(cluster: AnyCluster, host: HandleHost): NodeHandle[] {
  return cluster.masters.map((master) => ({
    address: `${master.host}:${master.port}`,
    send: async <T>(args: string[]) => {
      const client = await cluster.nodeClient(master)
      return (client.sendCommand(args, NO_TIMEOUT) as Promise<T>).catch((error: unknown) => {
        if (clusterRetryOf(error) === 'refresh') forgetClosedNodeClients(cluster)
        throw host.mapError(error, args[0] ?? 'command')
      })
    },
    duplicate: async (options?: DuplicateOptions) => {
      const client = await cluster.nodeClient(master)
      return host.connect(client.duplicate(dedicatedOverrides(options)) as AnyClient, `to ${master.host}:${master.port}`)
    },
  }))
}

/**
 * Makes node-redis re-read the slot map (CLUSTER SLOTS) within `timeoutMs`. node-redis only does
 * this by itself on MOVED replies and reconnect storms.
 */
export async function rediscoverSlots(
  cluster: AnyCluster,
  rootNodes: ClusterOptions['rootNodes'] | undefined,
  timeoutMs: number,
  scrubber: SecretScrubber,
): Promise<void> {
  const slots = cluster._slots as unknown as {
    rediscover(startWith: { options?: unknown }): Promise<void>
    masters: Array<{ client?: { isReady?: boolean; options?: unknown } }>
  }
  // node-redis starts from the node it is given (a live master when there is one), then the root nodes.
  const live = slots.masters.find((master) => master.client?.isReady)?.client
  const startWith = live ?? { options: rootNodeOptions(rootNodes) }
  await withTimeout(slots.rediscover(startWith), timeoutMs, () => {
    throw new RedkitError(ErrorCodes.E_CONNECTION, `cluster topology refresh: no node answered within ${timeoutMs} ms`)
  }).catch((error: unknown) => {
    throw toRedkitError(error, scrubber, 'cluster topology refresh')
  })
}

function rootNodeOptions(rootNodes: ClusterOptions['rootNodes'] | undefined): { url: string } | undefined {
  const first = rootNodes?.[0]
  if (first === undefined) return undefined
  return { url: typeof first === 'string' ? first : `redis://${first.host}:${first.port}` }
}
