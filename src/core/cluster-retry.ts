import type { AnyCluster } from './connection-options.js'
import { NODE_GAVE_UP } from './reconnect-policy.js'

/**
 * What to do when a Cluster command fails before Redis ran it. These failures say so for certain:
 * - `TRYAGAIN` (a multi-key command or script during a slot migration) and `LOADING`: wait and resend;
 * - `CLUSTERDOWN`, `MASTERDOWN`, `READONLY` (a demoted master): the slot map is stale or being
 *   repaired: refresh it, then resend;
 * - node-redis's "client is offline" / "client is closed" for one node's client: the command was never
 *   written (the node's client refuses to queue, see ClientFactory.cluster), nor is one whose node
 *   client gave up connecting (ReconnectPolicy.nodeStrategy): refresh and resend.
 * A socket error on a written command is not here: it may have run, and redkit's scripts are not all
 * idempotent, so it reaches the caller as E_CONNECTION.
 */
export type ClusterRetry = 'wait' | 'refresh'

export function clusterRetryOf(error: unknown): ClusterRetry | undefined {
  if (!(error instanceof Error)) return undefined
  const message = error.message
  if (/^(TRYAGAIN|LOADING)\b/.test(message)) return 'wait'
  if (/^(CLUSTERDOWN|MASTERDOWN|READONLY)\b/.test(message)) return 'refresh'
  if (message === 'The client is offline' || message === 'The client is closed' || message.startsWith(NODE_GAVE_UP)) return 'refresh'
  return undefined
}

/**
 * node-redis keeps a node's client after it gave up reconnecting, and answers "client is closed" for
 * that node for ever. Forgetting such clients makes the next command to the node open a new one.
 */
export function forgetClosedNodeClients(cluster: AnyCluster): void {
  const slots = (
    cluster as unknown as { _slots?: { nodeByAddress?: Map<string, { client?: { isOpen?: boolean }; connectPromise?: unknown }> } }
  )._slots
  for (const node of slots?.nodeByAddress?.values() ?? []) {
    if (node.client && node.client.isOpen === false && node.connectPromise === undefined) node.client = undefined
  }
}

/** Delay before resend `attempt` (1-based): short first, since a failover or migration step is often over in tens of ms. */
export function clusterRetryDelayMs(attempt: number): number {
  return Math.min(25 * 2 ** (attempt - 1), 400)
}

interface Destroyable {
  destroy(): unknown
}

/**
 * A client to close whose `destroy()` also reaches every node client of a Cluster client: node-redis
 * empties its node list as soon as a graceful close() starts, so a later destroy() would miss the
 * node clients still waiting on a frozen master (their commands would never fail, their sockets
 * stay open). Other clients are returned as they are.
 */
export function withNodeClients<C extends { close(): unknown; destroy?(): unknown; isOpen?: boolean }>(client: C): C {
  const slots = (
    client as unknown as {
      _slots?: { nodeByAddress?: Map<string, { client?: Destroyable }>; pubSubNode?: { client?: Destroyable } }
    }
  )._slots
  if (!slots?.nodeByAddress) return client
  const nodes: Destroyable[] = [...slots.nodeByAddress.values()].flatMap((node) => (node.client ? [node.client] : []))
  if (slots.pubSubNode?.client) nodes.push(slots.pubSubNode.client)
  return {
    close: () => client.close(),
    destroy: () => {
      for (const each of [client, ...nodes]) {
        try {
          each.destroy?.()
        } catch {
          // already gone
        }
      }
    },
    isOpen: client.isOpen,
  } as C
}
