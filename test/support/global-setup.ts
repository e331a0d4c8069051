import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { INSTALL_HINT, type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { clusterArgs, formCluster } from './cluster.js'

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
    /** A master and the Sentinel that monitors it (as group `redkit.sentinel.name`). */
    'redkit.sentinel': { name: string; masterUrl: string; sentinels: ClusterNodeAddress[] }
  }
}

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
    const [standalone, trio, cluster, sentinel] = await Promise.all([
      start(),
      Promise.all([start(), start(), start()]),
      Promise.all([start(clusterArgs()), start(clusterArgs()), start(clusterArgs())]).then(async (nodes) => {
        await formCluster(nodes, redisCli)
        return nodes
      }),
      start().then(async (master) => {
        const name = 'rkcontract'
        const watcher = await startRedisServer({ binary: redisServer, sentinelOf: { name, host: master.host, port: master.port } })
        started.push(watcher)
        return { name, masterUrl: master.url, sentinels: [{ host: watcher.host, port: watcher.port }] }
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
    project.provide('redkit.sentinel', sentinel)
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
