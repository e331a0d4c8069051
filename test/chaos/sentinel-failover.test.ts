import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { rawClient } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'
import { startWorkload, summarize } from '../support/workload.js'

// Sentinel, kill -9 of the primary: Sentinel promotes the replica and node-redis follows it. Every
// workload resumes, callers only ever see RedkitErrors, and what was acknowledged is delivered.
describe('Sentinel: kill -9 of the primary', () => {
  let primary: RedisProcess
  let replica: RedisProcess
  let sentinel: RedisProcess
  let rk: Redkit

  beforeAll(async () => {
    primary = await startRedisServer()
    replica = await startRedisServer({ args: ['--replicaof', primary.host, String(primary.port)] })
    const raw = await rawClient(replica.url)
    await eventually(
      async () => /master_link_status:up/.test(await raw.sendCommand<string>(['INFO', 'replication'])),
      10_000,
      'replica in sync',
    )
    await raw.close()
    sentinel = await startRedisServer({ sentinelOf: { name: 'rkfail', host: primary.host, port: primary.port, downAfterMs: 1000 } })
    // Sentinel learns the replicas from the primary's INFO.
    const watcher = await rawClient(sentinel.url)
    await eventually(
      async () => (await watcher.sendCommand<unknown[]>(['SENTINEL', 'REPLICAS', 'rkfail'])).length > 0,
      20_000,
      'sentinel knows the replica',
    )
    await watcher.close()
    rk = await createRedkit({
      sentinel: { name: 'rkfail', sentinels: [{ host: sentinel.host, port: sentinel.port }] },
      prefix: 'sfail',
      connectTimeoutMs: 3000,
    })
    rk.on('error', () => {})
  }, 60_000)

  afterAll(async () => {
    await rk?.close()
    await Promise.all([sentinel?.stop(), replica?.stop(), primary?.stop()])
  })

  it('resumes every module after the promotion; callers see only RedkitErrors; acknowledged work is delivered', async () => {
    const workload = await startWorkload(rk, 'sfail')
    // When Sentinel announces the new primary: the failover time the workloads are measured against.
    let switchedAt = Number.NaN
    const sub = await rawClient(sentinel.url)
    await sub.subscribe('+switch-master', () => {
      switchedAt = Date.now()
    })
    await sleep(800)
    workload.mark()
    primary.signal('SIGKILL')
    const killedAt = Date.now()
    const replicaClient = await rawClient(replica.url)
    await eventually(async () => /role:master/.test(await replicaClient.sendCommand<string>(['INFO', 'replication'])), 30_000, 'promotion')
    await replicaClient.close()
    const promotedAt = Date.now()
    await eventually(() => Object.values(workload.resumedAfter(promotedAt)).every((ms) => !Number.isNaN(ms)), 15_000, 'every lane resumed')
    await sleep(1000)
    const resumed = workload.resumedAfter(killedAt)
    const report = await workload.stop()
    const figures = { promotionMs: promotedAt - killedAt, switchMasterMs: switchedAt - killedAt, ...summarize(report, resumed) }
    console.log(JSON.stringify(figures))
    expect(figures.raw).toEqual([])
    // Measured 1.9 s after +switch-master on a quiet machine, 3.8 s at load 25 (node-redis's
    // reconfiguration after the announcement); the bound leaves room for a loaded CI machine.
    for (const ms of Object.values(resumed)) expect(ms).toBeLessThan(switchedAt - killedAt + 5000)
    await sub.close()
    expect(report.lockOverlaps).toBe(0)
    expect(report.tokenRegressions).toBe(0)
    // Replication is asynchronous: only writes of the last moments before the kill may be lost.
    expect(report.lostJobs.length).toBeLessThanOrEqual(2)
    expect(report.lostExpirations.length).toBeLessThanOrEqual(2)
    expect(report.duplicateJobs).toEqual([])
    expect(report.leaderboard.score).toBeGreaterThanOrEqual(report.leaderboard.acked - 2)
    const closing = Date.now()
    await rk.close()
    expect(Date.now() - closing).toBeLessThan(5000)
  }, 90_000)
})
