import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster, runRedisCli as redisCli } from '../support/cluster.js'
import { closeAll, rawClient } from '../support/redis.js'
import { eventually } from '../support/wait.js'

const PREFIX = 'neartopo'

async function nodeId(node: RedisProcess): Promise<string> {
  return (await redisCli(['-h', node.host, '-p', String(node.port), 'CLUSTER', 'MYID'])).trim()
}

/** The master serving `slot`, by CLUSTER SLOTS of any node. */
async function ownerOf(nodes: RedisProcess[], slot: number): Promise<RedisProcess> {
  const client = await rawClient((nodes[0] as RedisProcess).url)
  try {
    const slots = await client.sendCommand<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'])
    const port = Number(slots.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2][1])
    return nodes.find((node) => node.port === port) as RedisProcess
  } finally {
    await client.close()
  }
}

/** Moves one slot and its keys from `source` to `target` (the steps redis-cli --cluster reshard takes). */
async function moveSlot(nodes: RedisProcess[], slot: number, source: RedisProcess, target: RedisProcess): Promise<void> {
  const [src, dst] = [await rawClient(source.url), await rawClient(target.url)]
  const [srcId, dstId] = [await nodeId(source), await nodeId(target)]
  try {
    await dst.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', srcId])
    await src.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId])
    for (;;) {
      const keys = await src.sendCommand<string[]>(['CLUSTER', 'GETKEYSINSLOT', String(slot), '100'])
      if (keys.length === 0) break
      await src.sendCommand(['MIGRATE', target.host, String(target.port), '', '0', '5000', 'KEYS', ...keys])
    }
    for (const node of nodes) {
      const client = await rawClient(node.url)
      await client.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId]).catch(() => {})
      await client.close()
    }
  } finally {
    await closeAll(src, dst)
  }
}

/** A cache key whose entry lands in `slot`'s neighbourhood: the first whose entry key hashes to a slot `pick` accepts. */
function keyWhere(cache: string, pick: (slot: number) => boolean): { key: string; slot: number } {
  for (let i = 0; ; i++) {
    const slot = hashSlot(`${PREFIX}:cache:{${cache}:k${i}}`)
    if (pick(slot)) return { key: `k${i}`, slot }
  }
}

// node-redis's cluster client emits no 'ready' after a topology change: the near cache's health
// timer finds the new master and tracks it. Until then it must not serve from memory.
describe('Cluster: the near cache follows a master added to a running cluster', () => {
  let nodes: RedisProcess[] = []
  let added: RedisProcess
  let rk: Redkit
  let writer: Redkit

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs(5000) })))
    await formCluster(nodes)
    added = await startRedisServer({ args: clusterArgs(5000) })
    const options = { cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: PREFIX }
    ;[rk, writer] = await Promise.all([createRedkit(options), createRedkit(options)])
    rk.on('error', () => {})
    writer.on('error', () => {})
  }, 60_000)

  afterAll(async () => {
    await Promise.all([rk?.close(), writer?.close()])
    await Promise.all([...nodes, added].filter(Boolean).map((n) => n.stop()))
  })

  it('a master added with slots moved to it: the copies of moved keys drop within the health interval, then the new master is tracked', async () => {
    const cache = rk.cache<string>('users', { ttlMs: 60_000, near: { maxEntries: 100, ttlMs: 60_000, healthCheckMs: 200 } })
    const other = writer.cache<string>('users', { ttlMs: 60_000 })
    cache.on('error', () => {})
    await eventually(() => cache.nearReady, 10_000, 'near ready')
    const { key, slot } = keyWhere('users', () => true)
    const { key: stay } = keyWhere('users', (s) => s !== slot)
    await other.set(key, 'v1')
    await other.set(stay, 's1')
    expect(await cache.get(key)).toBe('v1')
    expect(await cache.get(stay)).toBe('s1')
    expect(cache.nearSize).toBe(2)

    // A fourth master joins, and the key's slot moves to it.
    const source = await ownerOf(nodes, slot)
    await redisCli(['--cluster', 'add-node', `${added.host}:${added.port}`, `${source.host}:${source.port}`])
    await eventually(
      async () => {
        for (const node of [...nodes, added]) {
          const client = await rawClient(node.url)
          try {
            const info = await client.sendCommand<string>(['CLUSTER', 'INFO'])
            if (!/^cluster_known_nodes:4\r?$/m.test(info) || !/^cluster_state:ok\r?$/m.test(info)) return false
          } finally {
            await client.close()
          }
        }
        return true
      },
      10_000,
      'every node knows the new one',
    )
    await moveSlot([...nodes, added], slot, source, added)
    expect((await ownerOf([...nodes, added], slot)).port).toBe(added.port)

    // The client learns of the new master (a MOVED reply refreshes its slot map)...
    await eventually(
      async () => {
        await cache.get(key)
        return rk.connection.masters().length === 4
      },
      10_000,
      'four masters',
    )
    // ...and a write lands on it before anything tracks it: the near copy of the moved key must
    // not be served for long (the health timer flushes it once it sees an untracked master).
    const now = Date.now()
    const entry = (value: string) => `j${now}:${now + 60_000}|"${value}"`
    const onAdded = await rawClient(added.url)
    try {
      await onAdded.set(`${PREFIX}:cache:{users:${key}}`, entry('v2'))
      await eventually(async () => (await cache.get(key)) === 'v2', 5000, 'the copy of the moved key dropped')
      await eventually(() => cache.nearReady, 10_000, 'near trusted again (the new master tracked)')

      // Filled again, then a write outside redkit on the new master: only its tracking connection
      // can evict the copy (no redkit message is sent).
      await eventually(async () => (await cache.get(key)) === 'v2' && cache.nearSize >= 1, 5000, 'near refilled')
      const hitsBefore = cache.stats.nearHits
      expect(await cache.get(key)).toBe('v2')
      expect(cache.stats.nearHits).toBe(hitsBefore + 1)
      await onAdded.set(`${PREFIX}:cache:{users:${key}}`, entry('v3'))
      await eventually(async () => (await cache.get(key)) === 'v3', 3000, 'the near copy evicted by the new master')
    } finally {
      await onAdded.close()
    }
    // The key that stayed is still tracked where it is.
    const stayOwner = await ownerOf([...nodes, added], hashSlot(`${PREFIX}:cache:{users:${stay}}`))
    const onOld = await rawClient(stayOwner.url)
    await onOld.set(`${PREFIX}:cache:{users:${stay}}`, entry('s2'))
    await onOld.close()
    await eventually(async () => (await cache.get(stay)) === 's2', 3000, 'the old master still tracked')
  }, 90_000)
})
