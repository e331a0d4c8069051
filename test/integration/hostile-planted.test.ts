import { createCluster } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError, type Redkit, type RedkitOptions } from '../../src/index.js'
import { clusterArgs, formCluster } from '../support/cluster.js'
import { closeAll, type RawClient, rawClient } from '../support/redis.js'

// Issue 13's planted-data suite: every kind of key redkit writes is overwritten with garbage and
// with a value of the wrong type, then every operation runs again. Each must answer with a typed
// error or recover, never hang Redis (a script loop would make every client wait with BUSY), and
// never write outside redkit's own keys. The servers (a standalone one, and a three-master
// cluster, where a module's keys spread over nodes) are this file's own, so every key on them is
// accounted for.
const PREFIX = 'planted'
const STEP_MS = 4000

type Op = [name: string, run: (rk: Redkit) => Promise<unknown>]

const OPS: Op[] = [
  ['expirations.set', (rk) => rk.expirations.set('exp:k1', { v: 1 }, { ttlMs: 60_000 })],
  ['expirations.expire', (rk) => rk.expirations.expire('exp:k1', 60_000)],
  ['expirations.delete', (rk) => rk.expirations.delete('exp:k1')],
  ['presence.beat', (rk) => rk.presence('devices', { ttlMs: 60_000 }).beat('d1', { model: 'x' })],
  ['presence.online', (rk) => rk.presence('devices', { ttlMs: 60_000 }).online()],
  ['presence.reapNow', (rk) => rk.presence('devices', { ttlMs: 60_000 }).reapNow()],
  ['cache.set', (rk) => rk.cache<number>('users', { ttlMs: 60_000 }).set('u1', 1, { tags: ['t1'] })],
  ['cache.getOrLoad', (rk) => rk.cache<number>('users', { ttlMs: 60_000, stampede: 'distributed' }).getOrLoad('u2', async () => 2)],
  ['cache.get', (rk) => rk.cache<number>('users', { ttlMs: 60_000 }).get('u1')],
  ['cache.invalidateTags', (rk) => rk.cache<number>('users', { ttlMs: 60_000 }).invalidateTags(['t1'])],
  ['queue.add', (rk) => rk.queue('orders').add({ n: 1 }, { jobId: 'o1' })],
  ['queue.add delayed', (rk) => rk.queue('orders').add({ n: 2 }, { delayMs: 60_000, priority: 3 })],
  ['queue.counts', (rk) => rk.queue('orders').counts()],
  ['queue.jobs', (rk) => rk.queue('orders').jobs('waiting')],
  ['queue.getJob', (rk) => rk.queue('orders').getJob('o1')],
  ['queue.retryDead', (rk) => rk.queue('orders').retryDead()],
  ['counter.incr', (rk) => rk.counter('visits').incr()],
  ['eventCounter.incr', (rk) => rk.eventCounter('stock').incr(1)],
  [
    'lock.tryAcquire+release',
    async (rk) => {
      const lock = rk.lock('order-1', { ttlMs: 5000 })
      if (await lock.tryAcquire()) await lock.release()
    },
  ],
  [
    'semaphore.tryAcquire+release',
    async (rk) => {
      const semaphore = rk.semaphore('pool', { permits: 2, ttlMs: 5000 })
      if (await semaphore.tryAcquire()) await semaphore.release()
    },
  ],
  ['sessions.create', (rk) => rk.sessions({ name: 'web' }).create('user-1', { a: 1 })],
  ['sessions.listForUser', (rk) => rk.sessions({ name: 'web' }).listForUser('user-1')],
  ['sessions.destroyAllForUser', (rk) => rk.sessions({ name: 'web' }).destroyAllForUser('user-1')],
  ['bloom.add', (rk) => rk.bloom('ids', { expectedItems: 1000, falsePositiveRate: 0.01 }).add('a')],
  ['bloom.mightContain', (rk) => rk.bloom('ids', { expectedItems: 1000, falsePositiveRate: 0.01 }).mightContain('a')],
  ['rateLimiter.consume', (rk) => rk.rateLimiter('api', { limit: 10, windowMs: 1000, algorithm: 'sliding-window' }).consume('k')],
  ['rateLimiter.consume gcra', (rk) => rk.rateLimiter('api-tb', { limit: 10, windowMs: 1000, algorithm: 'token-bucket' }).consume('k')],
  ['rateLimiter.consume fixed', (rk) => rk.rateLimiter('api-fw', { limit: 10, windowMs: 1000, algorithm: 'fixed-window' }).consume('k')],
  ['leaderboard.incr', (rk) => rk.leaderboard('game').incr('p1', 5)],
  ['leaderboard.top', (rk) => rk.leaderboard('game').top(10)],
  ['timeseries.incr', (rk) => rk.timeseries('views').incr(1)],
]

/** A value of the wrong kind for each Redis type, and garbage of the right kind. */
const PLANTS: Array<[name: string, plant: (raw: Keyed, key: string, type: string) => Promise<unknown>]> = [
  ['garbage string', (raw, key) => raw.set(key, '\u0000garbage{"x":')],
  [
    'hash of garbage',
    async (raw, key, type) => {
      await raw.del(key)
      // Numbers a script might loop over or allocate with, in every field a script might read.
      return raw.hSet(key, { hashes: '0', bits: String(2 ** 32), n: '-1', d: 'x', o: '{', v: 'nan', s: '1e400', t: type })
    },
  ],
  [
    'wrong type',
    async (raw, key, type) => {
      await raw.del(key)
      if (type === 'list') return raw.sAdd(key, 'x')
      return raw.rPush(key, ['x', '0', '-1'])
    },
  ],
]

async function withBound<T>(run: () => Promise<T>): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      run(),
      new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), STEP_MS)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Keyed commands the plants use: a standalone client, or a cluster client that routes by key. */
type Keyed = Pick<RawClient, 'set' | 'del' | 'hSet' | 'sAdd' | 'rPush' | 'type'>

/** One topology of this file's own servers: keyed access, and every node for SCAN, PING and INFO. */
interface Site {
  options: RedkitOptions
  keyed: Keyed
  nodes: RawClient[]
  close(): Promise<void>
}

async function standaloneSite(): Promise<Site> {
  // lua-time-limit low so a runaway script would show up as BUSY quickly rather than after 5 s.
  const server = await startRedisServer({ args: ['--lua-time-limit', '500'] })
  const raw = await rawClient(server.url)
  const close = async () => {
    await closeAll(raw)
    await server.stop()
  }
  return { options: { url: server.url }, keyed: raw, nodes: [raw], close }
}

async function clusterSite(): Promise<Site> {
  const servers: RedisProcess[] = await Promise.all(
    [0, 1, 2].map(() => startRedisServer({ args: [...clusterArgs(), '--lua-time-limit', '500'] })),
  )
  await formCluster(servers)
  const cluster = createCluster({ rootNodes: servers.map((server) => ({ url: server.url })) })
  cluster.on('error', () => {})
  await cluster.connect()
  const nodes = await Promise.all(servers.map((server) => rawClient(server.url)))
  return {
    options: { cluster: { rootNodes: servers.map((server) => server.url) } },
    keyed: cluster as unknown as Keyed,
    nodes,
    close: async () => {
      await closeAll(cluster, ...nodes)
      await Promise.all(servers.map((server) => server.stop()))
    },
  }
}

async function allKeys(site: Site): Promise<string[]> {
  const keys: string[] = []
  for (const node of site.nodes) for await (const batch of node.scanIterator({ MATCH: '*', COUNT: 1000 })) keys.push(...batch)
  return keys
}

describe.each([
  ['standalone', standaloneSite],
  ['cluster', clusterSite],
] as const)('planted data in every kind of redkit key on %s', (_topology, open) => {
  let site: Site
  let rk: Redkit

  beforeAll(async () => {
    site = await open()
    rk = await createRedkit({ ...site.options, prefix: PREFIX })
    rk.on('error', () => {})
    for (const [name, run] of OPS) {
      const result = await withBound(() => run(rk))
      expect(result, `${name} on a clean server`).not.toBe('hung')
    }
  }, 120_000)

  afterAll(async () => {
    await rk?.close().catch(() => {})
    await site?.close()
  })

  it('every operation answers (result or typed error), Redis never hangs, nothing is written outside the prefix', async () => {
    const keys = await allKeys(site)
    // Redkit's own probe key for native mode is allowed outside the prefix; nothing else is.
    const outside = (list: string[]) => list.filter((key) => !key.startsWith(`${PREFIX}:`) && !key.startsWith('__redkit:'))
    expect(outside(keys)).toEqual([])
    expect(keys.length).toBeGreaterThan(20)
    const problems: string[] = []
    for (const [plantName, plant] of PLANTS) {
      for (const key of keys.sort()) {
        const type = await site.keyed.type(key)
        await plant(site.keyed, key, type)
      }
      for (const [name, run] of OPS) {
        const result = await withBound(async () => {
          try {
            await run(rk)
            return 'ok'
          } catch (error) {
            return isRedkitError(error) ? `typed ${error.code}` : `RAW ${(error as Error)?.name}: ${(error as Error)?.message}`
          }
        })
        if (process.env.PLANT_DEBUG) console.log(plantName, name, result)
        if (result === 'hung' || String(result).startsWith('RAW')) problems.push(`${plantName}: ${name}: ${String(result).slice(0, 160)}`)
        // A script stuck in a loop makes PING answer BUSY: check every node after every operation.
        for (const node of site.nodes) {
          const ping = await withBound(() => node.ping().catch((error: unknown) => String(error)))
          if (ping !== 'PONG') problems.push(`${plantName}: after ${name} Redis answered PING with ${String(ping)}`)
        }
      }
      for (const key of outside(await allKeys(site))) problems.push(`${plantName}: a key outside the prefix was written: ${key}`)
      for (const node of site.nodes) {
        const memory = Number(/used_memory:(\d+)/.exec(await node.info('memory'))?.[1])
        if (memory > 200 * 1024 * 1024) problems.push(`${plantName}: Redis memory grew to ${memory} bytes`)
      }
    }
    expect(problems).toEqual([])
  }, 240_000)
})
