import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import { createClient } from 'redis'
import type { TestProject } from 'vitest/node'
import { INSTALL_HINT, type RedisProcess, startRedisServer } from '../../src/core/redis-process.js'

/**
 * Starts the throwaway Redis topology once per `vitest run` and hands the addresses to the tests
 * through `provide`/`inject` (read them with the accessors in `./redis.ts`). Nothing here ever
 * talks to 127.0.0.1:6379: every server is ours, on a free port, in its own temp dir.
 */

export interface ClusterNodeAddress {
  host: string
  port: number
}

declare module 'vitest' {
  interface ProvidedContext {
    /** redis://host:port of the standalone server. */
    'redkit.standaloneUrl': string
    /** Three independent standalone servers (Redlock). */
    'redkit.trioUrls': string[]
    /** The three masters of the test cluster. */
    'redkit.clusterNodes': ClusterNodeAddress[]
  }
}

const CLUSTER_ARGS = [
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  'nodes.conf',
  '--cluster-node-timeout',
  '2000',
  '--appendonly',
  'no',
  '--save',
  '',
]

const CLUSTER_READY_TIMEOUT_MS = 20_000

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redisServer = process.env.REDKIT_REDIS_SERVER ?? 'redis-server'
  const redisCli = process.env.REDKIT_REDIS_CLI ?? 'redis-cli'
  if (!onPath(redisServer)) {
    throw new Error(`Test Redis: ${redisServer} not found on PATH. ${INSTALL_HINT} (\`npm test\` installs it when it can.)`)
  }
  if (!onPath(redisCli)) {
    throw new Error(
      `Test Redis: ${redisCli} not found on PATH; it creates the test cluster. ` +
        'Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`, which pulls in redis-tools; macOS: `brew install redis`) or set REDKIT_REDIS_CLI.',
    )
  }

  const started: RedisProcess[] = []
  const start = async (args: string[] = []) => {
    const server = await startRedisServer({ binary: redisServer, args })
    started.push(server)
    return server
  }
  const stopAll = async () => {
    process.removeListener('exit', killAll)
    await Promise.allSettled(started.map((server) => server.stop()))
  }
  // If the run dies without teardown (crash, process.exit), do not leave servers behind.
  const killAll = () => {
    for (const server of started) server.signal('SIGKILL')
  }
  process.once('exit', killAll)

  try {
    const [standalone, trio, cluster] = await Promise.all([
      start(),
      Promise.all([start(), start(), start()]),
      Promise.all([start(CLUSTER_ARGS), start(CLUSTER_ARGS), start(CLUSTER_ARGS)]).then(async (nodes) => {
        await createCluster(redisCli, nodes)
        await waitForClusterReady(nodes)
        return nodes
      }),
    ])
    project.provide('redkit.standaloneUrl', standalone.url)
    project.provide(
      'redkit.trioUrls',
      trio.map((server) => server.url),
    )
    project.provide(
      'redkit.clusterNodes',
      cluster.map(({ host, port }) => ({ host, port })),
    )
  } catch (error) {
    await stopAll()
    throw error
  }
  return stopAll
}

function onPath(binary: string): boolean {
  const candidates = binary.includes(path.sep)
    ? [binary]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, binary))
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

function createCluster(redisCli: string, nodes: RedisProcess[]): Promise<void> {
  const args = ['--cluster', 'create', ...nodes.map((node) => `${node.host}:${node.port}`), '--cluster-replicas', '0', '--cluster-yes']
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
      if (code === 0) resolve()
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
      const ready = infos.every(
        (info) =>
          /^cluster_state:ok\r?$/m.test(info) &&
          /^cluster_slots_assigned:16384\r?$/m.test(info) &&
          /^cluster_slots_ok:16384\r?$/m.test(info) &&
          new RegExp(`^cluster_known_nodes:${nodes.length}\\r?$`, 'm').test(info),
      )
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
