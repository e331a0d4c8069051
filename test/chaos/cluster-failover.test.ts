import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster, runRedisCli } from '../support/cluster.js'
import { eventually, sleep } from '../support/wait.js'
import { startWorkload, summarize } from '../support/workload.js'

const NODE_TIMEOUT_MS = 2000

/** Which node serves each slot range, asked of a live node. */
async function slotOwners(rk: Redkit): Promise<Array<[number, number, number]>> {
  const slots = await rk.connection.send<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'], { key: 'any' })
  return slots.map(([from, to, [, port]]) => [Number(from), Number(to), Number(port)])
}

// kill -9 of a Cluster master with a replica: node-redis keeps its client for the dead master, and
// every connection that connects eagerly to every master would wait on it for ever. Every module's
// workload (test/support/workload.ts) must resume once the replica is promoted, every wait
// meanwhile is bounded, and no caller sees a raw socket error.
describe('Cluster: kill -9 of a master', () => {
  let nodes: RedisProcess[] = []
  let rk: Redkit
  const errors: string[] = []

  beforeAll(async () => {
    nodes = await Promise.all(Array.from({ length: 6 }, () => startRedisServer({ args: clusterArgs(NODE_TIMEOUT_MS) })))
    await formCluster(nodes, undefined, { replicas: 1 })
    rk = await createRedkit({ cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: 'failover', connectTimeoutMs: 3000 })
    rk.on('error', (e) => errors.push(e.code))
  }, 60_000)

  afterAll(async () => {
    await rk?.close()
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('kill -9: every module resumes after the promotion, with bounded waits, typed errors and nothing acknowledged lost', async () => {
    const workload = await startWorkload(rk, 'failover')
    // The victim: the master serving the expiry machinery's slot, so at least that lane is hit.
    const owners = await slotOwners(rk)
    const probeKey = '{exp}'
    const victimPort = owners.find(([from, to]) => hashSlot(probeKey) >= from && hashSlot(probeKey) <= to)?.[2]
    const victim = nodes.find((n) => n.port === victimPort) as RedisProcess
    expect(victim).toBeDefined()

    await sleep(1000)
    workload.mark()
    victim.signal('SIGKILL')
    const killedAt = Date.now()
    // The replica is promoted after the node timeout and an election.
    await eventually(
      async () => {
        try {
          return !(await slotOwners(rk)).some(([, , port]) => port === victim.port)
        } catch {
          return false
        }
      },
      30_000,
      'the replica promoted',
    )
    const promotedAt = Date.now()
    await eventually(() => Object.values(workload.resumedAfter(promotedAt)).every((ms) => !Number.isNaN(ms)), 15_000, 'every lane resumed')
    await sleep(1000)
    const resumed = workload.resumedAfter(killedAt)
    const report = await workload.stop()
    const figures = { promotionMs: promotedAt - killedAt, ...summarize(report, resumed), errors: errors.slice(0, 10) }
    console.log(JSON.stringify(figures))
    // Failover time + 2 s (issue 16), plus the connect bound a command to the dead node may wait.
    for (const ms of Object.values(resumed)) expect(ms).toBeLessThan(promotedAt - killedAt + 2000 + 3000)
    expect(figures.raw).toEqual([])
    expect(report.lockOverlaps).toBe(0)
    expect(report.tokenRegressions).toBe(0)
    // Replication is asynchronous: what the dead master acknowledged in its last moments may be
    // gone with it. Expirations are re-derived from the deadline index, so none may be lost.
    expect(report.lostExpirations).toEqual([])
    expect(report.lostJobs.length).toBeLessThanOrEqual(2)
    expect(report.duplicateJobs).toEqual([])
    expect(report.leaderboard.score).toBeGreaterThanOrEqual(report.leaderboard.acked - 2)
    expect(report.leaderboard.score).toBeLessThanOrEqual(report.leaderboard.attempted)
    const closing = Date.now()
    await rk.close()
    expect(Date.now() - closing).toBeLessThan(5000)
  }, 90_000)
})

// A graceful CLUSTER FAILOVER (maintenance: the replica takes over after catching up). Nothing may
// be lost and the pause is short.
describe('Cluster: graceful failover', () => {
  let nodes: RedisProcess[] = []
  let rk: Redkit

  beforeAll(async () => {
    nodes = await Promise.all(Array.from({ length: 6 }, () => startRedisServer({ args: clusterArgs(NODE_TIMEOUT_MS) })))
    await formCluster(nodes, undefined, { replicas: 1 })
    rk = await createRedkit({ cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: 'graceful', connectTimeoutMs: 3000 })
    rk.on('error', () => {})
  }, 60_000)

  afterAll(async () => {
    await rk?.close()
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('every module keeps going: no raw error, nothing lost, each lane back within 2 s', async () => {
    const workload = await startWorkload(rk, 'graceful')
    const owners = await slotOwners(rk)
    const masterPort = owners.find(([from, to]) => hashSlot('graceful:probe') >= from && hashSlot('graceful:probe') <= to)?.[2]
    // Its replica: the node whose INFO replication names that master.
    let replica: RedisProcess | undefined
    for (const node of nodes) {
      const info = await runRedisCli(['-h', node.host, '-p', String(node.port), 'INFO', 'replication'])
      if (new RegExp(`master_port:${masterPort}\\b`).test(info)) replica = node
    }
    expect(replica).toBeDefined()
    await sleep(800)
    workload.mark()
    const startedAt = Date.now()
    await runRedisCli(['-h', (replica as RedisProcess).host, '-p', String((replica as RedisProcess).port), 'CLUSTER', 'FAILOVER'])
    await eventually(
      async () =>
        !(await slotOwners(rk)).some(
          ([from, to, port]) => port === masterPort && hashSlot('graceful:probe') >= from && hashSlot('graceful:probe') <= to,
        ),
      20_000,
      'the replica took over',
    )
    const tookOverAt = Date.now()
    await eventually(() => Object.values(workload.resumedAfter(tookOverAt)).every((ms) => !Number.isNaN(ms)), 15_000, 'every lane resumed')
    await sleep(800)
    const resumed = workload.resumedAfter(startedAt)
    const report = await workload.stop()
    const figures = { takeOverMs: tookOverAt - startedAt, ...summarize(report, resumed) }
    console.log(JSON.stringify(figures))
    expect(figures.raw).toEqual([])
    for (const ms of Object.values(workload.resumedAfter(tookOverAt))) expect(ms).toBeLessThan(2000)
    expect(report.lostExpirations).toEqual([])
    expect(report.lostJobs).toEqual([])
    expect(report.duplicateJobs).toEqual([])
    expect(report.lockOverlaps).toBe(0)
    expect(report.tokenRegressions).toBe(0)
    expect(report.leaderboard.score).toBeGreaterThanOrEqual(report.leaderboard.acked)
  }, 90_000)
})
