import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster, runRedisCli as redisCli } from '../support/cluster.js'
import { rawClient } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'
import { LANES, startWorkload, summarize } from '../support/workload.js'

async function nodeId(node: RedisProcess): Promise<string> {
  return (await redisCli(['-h', node.host, '-p', String(node.port), 'CLUSTER', 'MYID'])).trim()
}

// Moving slots while keys are written: during a slot's migration Redis answers ASK (node-redis
// follows it) and, for multi-key commands and scripts whose keys are split between the two nodes,
// TRYAGAIN. No caller may see either, and nothing written may be lost.
describe('Cluster: resharding under load', () => {
  let nodes: RedisProcess[] = []
  let rk: Redkit

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs(5000) })))
    await formCluster(nodes)
    rk = await createRedkit({ cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: 'reshard' })
    rk.on('error', () => {})
  }, 60_000)

  afterAll(async () => {
    await rk?.close()
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('moves 1,000 slots while jobs, expirations and cache writes run: no caller error, nothing lost', async () => {
    const delivered = new Set<string>()
    await rk.expirations.on('reshard:exp:*', (e) => void delivered.add(e.key))
    const processed = new Set<number>()
    // Many queues, so their hash tags fall in many slots, some of them among those moved.
    const QUEUES = 24
    for (let q = 0; q < QUEUES; q++)
      rk.worker<{ n: number }>(`jobs-${q}`, async (job) => void processed.add(job.data.n), { concurrency: 2 })
    const queues = Array.from({ length: QUEUES }, (_, q) => rk.queue<{ n: number }>(`jobs-${q}`))
    const cache = rk.cache<number>('reshard-cache', { ttlMs: 60_000 })

    let stop = false
    const acked: string[] = []
    const jobs: number[] = []
    const callerErrors: string[] = []
    const writer = async (lane: number) => {
      for (let i = lane; !stop; i += 4) {
        try {
          const key = `reshard:exp:${i}`
          await rk.expirations.set(key, i, { ttlMs: 500 })
          acked.push(key)
          await (queues[i % QUEUES] as (typeof queues)[number]).add({ n: i })
          jobs.push(i)
          await cache.set(`c${i}`, i)
          expect(await cache.get(`c${i}`)).toBe(i)
        } catch (error) {
          callerErrors.push(isRedkitError(error) ? `${error.code} ${error.message.slice(0, 120)}` : `raw: ${String(error)}`)
        }
      }
    }
    const load = Promise.all([0, 1, 2, 3].map(writer))
    // Every other module at once, beside the lanes above.
    const workload = await startWorkload(rk, 'reshard-all', { pauseMs: 10 })
    await sleep(300)
    const [from, to] = [await nodeId(nodes[0] as RedisProcess), await nodeId(nodes[1] as RedisProcess)]
    const started = Date.now()
    await redisCli([
      '--cluster',
      'reshard',
      `${nodes[0]?.host}:${nodes[0]?.port}`,
      '--cluster-from',
      from,
      '--cluster-to',
      to,
      '--cluster-slots',
      '1000',
      '--cluster-yes',
      '--cluster-pipeline',
      '50',
    ])
    const reshardMs = Date.now() - started
    await sleep(300)
    stop = true
    await load
    const report = await workload.stop()
    await eventually(() => acked.every((key) => delivered.has(key)), 20_000, 'every acknowledged expiration delivered')
    await eventually(() => jobs.every((n) => processed.has(n)), 20_000, 'every acknowledged job processed')
    console.log(
      JSON.stringify({
        reshardMs,
        acked: acked.length,
        jobs: jobs.length,
        callerErrors: callerErrors.slice(0, 10),
        errorCount: callerErrors.length,
        everyModule: summarize(report, workload.resumedAfter(started)),
      }),
    )
    expect(callerErrors).toEqual([])
    for (const lane of LANES) expect(report.lanes[lane].raw.concat(report.lanes[lane].typed), lane).toEqual([])
    expect(report.lostExpirations).toEqual([])
    expect(report.lostJobs).toEqual([])
    expect(report.duplicateJobs).toEqual([])
    expect(report.lockOverlaps).toBe(0)
    expect(report.tokenRegressions).toBe(0)
    expect(report.staleReads).toBe(0)
    expect(report.leaderboard.score).toBe(report.leaderboard.acked)
    expect(acked.length).toBeGreaterThan(100)
  }, 120_000)

  /**
   * Puts the slot of `tag` into migration from its master to another one (IMPORTING, MIGRATING),
   * so a test moves its keys by hand, step by step, and then assigns the slot to the target.
   */
  async function migrationOf(tag: string) {
    const slot = String(hashSlot(tag))
    const owners = await rk.connection.send<Array<[number, number, [string, number, string]]>>(['CLUSTER', 'SLOTS'], { key: tag })
    const sourcePort = Number(owners.find(([lo, hi]) => Number(slot) >= lo && Number(slot) <= hi)?.[2][1])
    const source = nodes.find((n) => n.port === sourcePort) as RedisProcess
    const target = nodes.find((n) => n !== source) as RedisProcess
    const [src, dst] = [await rawClient(source.url), await rawClient(target.url)]
    const [srcId, dstId] = [await nodeId(source), await nodeId(target)]
    await dst.sendCommand(['CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId])
    await src.sendCommand(['CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId])
    return {
      /** Up to `count` keys still on the source. */
      keys: (count: number) => src.sendCommand<string[]>(['CLUSTER', 'GETKEYSINSLOT', slot, String(count)]),
      move: async (keys: string[]) => {
        if (keys.length > 0) await src.sendCommand(['MIGRATE', target.host, String(target.port), '', '0', '5000', 'KEYS', ...keys])
      },
      /** The slot belongs to the target now, on every node. */
      finish: async () => {
        for (const node of nodes) {
          const client = await rawClient(node.url)
          await client.sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', dstId]).catch(() => {})
          await client.close()
        }
      },
      close: () => Promise.all([src.close(), dst.close()]),
    }
  }

  it('a script whose keys are split by a migration in progress waits (TRYAGAIN) and succeeds once the slot has moved', async () => {
    const queue = rk.queue<{ n: number }>('split')
    for (let n = 0; n < 40; n++) await queue.add({ n })
    const migration = await migrationOf('{split}')
    try {
      // Half the queue's keys moved: its scripts now get TRYAGAIN from the source.
      await migration.move(await migration.keys(20))
      const adding = queue.add({ n: 40 })
      const counting = queue.counts()
      await sleep(400)
      for (let keys = await migration.keys(100); keys.length > 0; keys = await migration.keys(100)) await migration.move(keys)
      await migration.finish()
      expect((await adding).created).toBe(true)
      expect((await counting).waiting).toBeGreaterThanOrEqual(40)
      expect((await queue.counts()).waiting).toBe(41)
    } finally {
      await migration.close()
    }
  }, 60_000)

  // Review fix 16: a waiter's attempt that met TRYAGAIN (its lock's keys split by a migration) failed
  // the whole acquire() with E_SCRIPT, although the wait had most of its timeout left. The waiter
  // here has a short connectTimeoutMs, so the connection's own retry gives up well before the
  // split ends: only the wait's retry within its timeout carries it through.
  it('a waiter whose attempts meet TRYAGAIN while its lock migrates keeps waiting and gets the lock', async () => {
    const holder = rk.lock('migrating', { ttlMs: 30_000 })
    await holder.acquire()
    const other = await createRedkit({ cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: 'reshard', connectTimeoutMs: 300 })
    other.on('error', () => {})
    const queue = rk.keys.key('lock:migrating', 'queue')
    const waiter = other.lock('migrating', { ttlMs: 30_000, pollMs: 50 })
    let failure: unknown
    const waiting = waiter.acquire({ timeoutMs: 20_000 }).catch((error: unknown) => {
      failure = error
    })
    // Queued first: while a slot migrates, a script whose keys do not all exist there gets TRYAGAIN.
    await eventually(async () => Number(await rk.connection.send(['ZCARD', queue], { key: queue })) === 1, 5000, 'the waiter queued')
    const migration = await migrationOf('{lock:migrating}')
    try {
      const keys = await migration.keys(100)
      expect(keys.length).toBeGreaterThan(1)
      // One key moved: every attempt of the waiter (a poll each 50 ms) now gets TRYAGAIN, for
      // several times the connection's retry window.
      await migration.move(keys.slice(0, 1))
      await sleep(1500)
      expect(failure).toBeUndefined()
      await migration.move(keys.slice(1))
      await migration.finish()
      expect(await holder.release()).toBe(true)
      await waiting
      expect(failure).toBeUndefined()
      expect(waiter.held).toBe(true)
      expect(await waiter.release()).toBe(true)
    } finally {
      await migration.close()
      await other.close()
    }
  }, 60_000)

  it('a lock released while its slot migrates is released (ASK and TRYAGAIN followed), and the next waiter gets it', async () => {
    const holder = rk.lock('moving', { ttlMs: 30_000 })
    await holder.acquire()
    // A waiter, so the lock's queue keys exist too and a partial move splits them.
    const waiter = rk.lock('moving', { ttlMs: 30_000 })
    const waiting = waiter.acquire({ timeoutMs: 20_000 })
    await sleep(200)
    const migration = await migrationOf('{lock:moving}')
    try {
      const keys = await migration.keys(100)
      expect(keys.length).toBeGreaterThan(1)
      // Move one key: the release script's keys are now split between the nodes (TRYAGAIN).
      await migration.move(keys.slice(0, 1))
      const releasing = holder.release()
      await sleep(300)
      await migration.move(keys.slice(1))
      await migration.finish()
      expect(await releasing).toBe(true)
      await waiting
      expect(waiter.held).toBe(true)
      expect(await waiter.release()).toBe(true)
    } finally {
      await migration.close()
    }
  }, 60_000)
})
