import { spawn } from 'node:child_process'
import { createClient } from 'redis'
import { INSTALL_HINT, type RedisProcess } from '../../packages/server/src/redis-process.js'

const CLUSTER_READY_TIMEOUT_MS = 20_000

/**
 * Arguments of a throwaway cluster node. `nodeTimeoutMs` is how long a silent node takes to be
 * marked failed by the others (short for failover tests, long to freeze a node without losing the cluster).
 */
export function clusterArgs(nodeTimeoutMs = 2000): string[] {
  return [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--appendonly',
    'no',
    '--save',
    '',
  ]
}

/**
 * Joins started nodes (each run with `clusterArgs()`) into a cluster, and waits until it serves every
 * slot. With `replicas: 1`, redis-cli makes half the nodes replicas of the other half, and the wait
 * also covers every replica's link to its master (a failover needs it).
 */
export async function formCluster(
  nodes: RedisProcess[],
  redisCli = process.env.REDKIT_REDIS_CLI ?? 'redis-cli',
  { replicas = 0 }: { replicas?: number } = {},
): Promise<void> {
  await createCluster(redisCli, nodes, replicas)
  await waitForClusterReady(nodes)
}

function createCluster(redisCli: string, nodes: RedisProcess[], replicas: number): Promise<void> {
  const addresses = nodes.map((node) => `${node.host}:${node.port}`)
  return runRedisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], redisCli).then(
    () => {},
  )
}

/** Runs redis-cli with `args`; resolves with its output, rejects with the tail of it on a non-zero exit. */
export function runRedisCli(args: string[], redisCli = process.env.REDKIT_REDIS_CLI ?? 'redis-cli'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(redisCli, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'ENOENT' ? `redis-cli not found. ${INSTALL_HINT}` : `cannot run redis-cli: ${error.message}`)),
    )
    child.once('close', (code) => {
      if (code === 0) resolve(output)
      else reject(new Error(`redis-cli ${args.join(' ')} exited with code ${code}:\n${output.slice(-2000)}`))
    })
  })
}

/** Polls CLUSTER INFO on every node until each reports state ok, all slots assigned and all nodes known. */
async function waitForClusterReady(nodes: RedisProcess[]): Promise<void> {
  const clients = nodes.map((node) => createClient({ url: node.url, socket: { reconnectStrategy: false } }))
  for (const client of clients) client.on('error', () => {})
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS
  let last = ''
  try {
    await Promise.all(clients.map((client) => client.connect()))
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.sendCommand<string>(['CLUSTER', 'INFO'])))
      const replication = await Promise.all(clients.map((client) => client.sendCommand<string>(['INFO', 'replication'])))
      const ready =
        infos.every(
          (info) =>
            /^cluster_state:ok\r?$/m.test(info) &&
            /^cluster_slots_assigned:16384\r?$/m.test(info) &&
            /^cluster_slots_ok:16384\r?$/m.test(info) &&
            new RegExp(`^cluster_known_nodes:${nodes.length}\\r?$`, 'm').test(info),
        ) && replication.every((info) => !/^role:slave\r?$/m.test(info) || /^master_link_status:up\r?$/m.test(info))
      if (ready) return
      last = infos.join('\n---\n')
      if (Date.now() > deadline) throw new Error(`Test Redis cluster not ready after ${CLUSTER_READY_TIMEOUT_MS} ms:\n${last}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } finally {
    await Promise.allSettled(clients.map((client) => (client.isOpen ? client.close() : undefined)))
    for (const client of clients) client.destroy()
  }
}

/** The port of the master serving `slot`, in a CLUSTER SLOTS reply (NaN when no range holds it). */
export function portOfSlot(slots: Array<[number, number, [string, number]]>, slot: number): number {
  return Number(slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1])
}
