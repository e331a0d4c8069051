import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster } from '../support/cluster.js'
import { closeAll, type RawClient, rawClient, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// Cluster cost of reliable expirations (issue 10, item 14): a `set` is one script in its key's own
// slot; it neither waits for the master that holds the slot directory nor PUBLISHes (a PUBLISH on
// Cluster reaches every node); the directory hears only of deadlines that became their slot's earliest.
// The tests pause masters (CLIENT PAUSE), so they run on a 3-master cluster of their own, not the
// shared one other files use at the same time.

/** The master URL serving each slot range, from CLUSTER SLOTS. */
async function slotOwners(client: RawClient): Promise<Array<{ from: number; to: number; url: string }>> {
  const rows = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number]]>
  return rows.map(([from, to, [, port]]) => ({ from, to, url: String(port) }))
}

describe('reliable expirations on Cluster: the cost of a set', () => {
  let rk: Redkit
  let prefix: string
  let nodes: RedisProcess[] = []
  let urls: string[] = []
  const raws: RawClient[] = []
  /** Raw clients by port. */
  const byPort = new Map<string, RawClient>()

  beforeAll(async () => {
    prefix = testPrefix()
    // A long node timeout: a paused master must never look failed.
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs(30_000) })))
    await formCluster(nodes)
    urls = nodes.map((n) => n.url)
    rk = await createRedkit({ cluster: { rootNodes: urls }, prefix })
    for (const url of urls) {
      const client = await rawClient(url)
      raws.push(client)
      byPort.set(new URL(url).port, client)
    }
  })
  afterAll(async () => {
    await rk?.close()
    await closeAll(...raws)
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('a set does not wait for the master of the slot directory, and its event arrives once that master is back', async () => {
    const directory = `${prefix}:{exp}:dir`
    const owners = await slotOwners(raws[0] as RawClient)
    const ownerOf = (key: string) => owners.find((o) => hashSlot(key) >= o.from && hashSlot(key) <= o.to)?.url
    const directoryMaster = ownerOf(directory)
    let key = ''
    for (let i = 0; ownerOf(key) === directoryMaster || key === ''; i++) key = `${prefix}:elsewhere:${i}`
    const seen: string[] = []
    const sub = await rk.expirations.on(`${prefix}:elsewhere:*`, (e) => void seen.push(e.key), { group: 'elsewhere' })
    // Warm the key's own node, so the timing below is the set alone.
    await rk.expirations.set(`${key}-warm`, 1, { ttlMs: 60_000 })
    const paused = byPort.get(directoryMaster as string) as RawClient
    await paused.sendCommand(['CLIENT', 'PAUSE', '3000', 'WRITE'])
    const started = Date.now()
    await rk.expirations.set(key, 1, { ttlMs: 300 })
    const took = Date.now() - started
    expect(took).toBeLessThan(1500)
    await eventually(() => seen.includes(key), 15_000, 'the event after the pause')
    await sub.close()
  })

  it("a stalled master holds back only its own slots: the other masters' events arrive meanwhile", async () => {
    const directory = `${prefix}:{exp}:dir`
    const owners = await slotOwners(raws[0] as RawClient)
    const ownerOf = (key: string) => owners.find((o) => hashSlot(key) >= o.from && hashSlot(key) <= o.to)?.url
    const directoryMaster = ownerOf(directory)
    const stalledMaster = owners.map((o) => o.url).find((url) => url !== directoryMaster) as string
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:stall:${i}`)
    const stalledKeys = keys.filter((k) => ownerOf(k) === stalledMaster)
    const freeKeys = keys.filter((k) => ownerOf(k) !== stalledMaster)
    const seen = new Map<string, number>()
    const sub = await rk.expirations.on(`${prefix}:stall:*`, (e) => void seen.set(e.key, Date.now()), { group: 'stall' })
    // The stalled master's keys are due first, so every sweep meets them.
    await Promise.all(stalledKeys.map((k) => rk.expirations.set(k, 1, { ttlMs: 300 })))
    await sleep(250)
    const stalled = byPort.get(stalledMaster) as RawClient
    await stalled.sendCommand(['CLIENT', 'PAUSE', '6000', 'WRITE'])
    const pausedAt = Date.now()
    await Promise.all(freeKeys.map((k) => rk.expirations.set(k, 1, { ttlMs: 300 })))
    await eventually(() => freeKeys.every((k) => seen.has(k)), 15_000, "the other masters' events")
    const latest = Math.max(...freeKeys.map((k) => seen.get(k) as number))
    // Delivered while the pause (6 s) still holds, with a wide margin for a loaded machine.
    expect(latest - pausedAt).toBeLessThan(4500)
    await eventually(() => stalledKeys.every((k) => seen.has(k)), 20_000, "the stalled master's events, after the pause")
    await sub.close()
  })

  it('sets PUBLISH nothing on Cluster', async () => {
    const listener = await rawClient(urls[0])
    let heard = 0
    try {
      await listener.subscribe(`${prefix}:{exp}:wake`, () => {
        heard++
      })
      // Earlier and earlier deadlines: each one is the earliest of its slot and of the directory.
      for (let i = 0; i < 50; i++) await rk.expirations.set(`${prefix}:quiet:${i}`, i, { ttlMs: 60_000 - i * 100 })
      await sleep(300)
      expect(heard).toBe(0)
    } finally {
      await closeAll(listener)
    }
  })

  it("a deadline later than its slot's earliest does not touch the directory", async () => {
    const versions = `${prefix}:{exp}:dirver`
    const slot = hashSlot(`${prefix}:{one}:0`)
    for (let i = 0; i < 40; i++) await rk.expirations.set(`${prefix}:{one}:${i}`, i, { ttlMs: 60_000 + i * 100 })
    await sleep(200)
    const owner = (await slotOwners(raws[0] as RawClient)).find((o) => hashSlot(versions) >= o.from && hashSlot(versions) <= o.to)
    const client = byPort.get(owner?.url as string) as RawClient
    const touches = Number(await client.sendCommand(['HGET', versions, String(slot)]))
    expect(touches).toBe(1)
  })
})
