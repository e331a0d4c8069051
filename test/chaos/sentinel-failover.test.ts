import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { rawClient } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

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

  it('resumes every workload after the promotion; callers see only RedkitErrors; acknowledged work is delivered', async () => {
    const delivered = new Set<string>()
    await rk.expirations.on('sfail:exp:*', (e) => void delivered.add(e.key))
    const processed = new Set<number>()
    rk.worker<{ n: number }>('sfail-jobs', async (job) => void processed.add(job.data.n), { concurrency: 4 })
    const queue = rk.queue<{ n: number }>('sfail-jobs')

    let stop = false
    let killedAt = Number.POSITIVE_INFINITY
    const acked: Array<{ key: string; at: number }> = []
    const jobs: number[] = []
    const callerErrors: string[] = []
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const key = `sfail:exp:${i}`
          await rk.expirations.set(key, i, { ttlMs: 300 })
          acked.push({ key, at: Date.now() })
          await queue.add({ n: i })
          jobs.push(i)
        } catch (error) {
          callerErrors.push(isRedkitError(error) ? `${error.code} at +${Date.now() - killedAt} ms` : `raw: ${String(error)}`)
        }
        await sleep(20)
      }
    })()
    // When Sentinel announces the new primary: the failover time the workloads are measured against.
    let switchedAt = Number.NaN
    const sub = await rawClient(sentinel.url)
    await sub.subscribe('+switch-master', () => {
      switchedAt = Date.now()
    })
    await sleep(800)
    primary.signal('SIGKILL')
    killedAt = Date.now()
    const replicaClient = await rawClient(replica.url)
    await eventually(async () => /role:master/.test(await replicaClient.sendCommand<string>(['INFO', 'replication'])), 30_000, 'promotion')
    await replicaClient.close()
    const promotedAt = Date.now()
    // The first write acknowledged after the promotion: how long the workload was stalled.
    await eventually(() => acked.some((a) => a.at > promotedAt), 10_000, 'writes resume after the promotion')
    const resumedMs = (acked.find((a) => a.at > killedAt)?.at ?? Number.NaN) - killedAt
    await sleep(1500)
    stop = true
    await load
    const afterKill = acked.filter((a) => a.at > promotedAt)
    await eventually(() => afterKill.every((a) => delivered.has(a.key)), 10_000, 'expirations written after the promotion delivered')
    await eventually(() => jobs.filter((n) => n > 0).every((n) => processed.has(n)), 15_000, 'acknowledged jobs processed').catch(() => {})
    const lostJobs = jobs.filter((n) => !processed.has(n))
    const lostExpirations = acked.filter((a) => !delivered.has(a.key))
    console.log(
      JSON.stringify({
        promotionMs: promotedAt - killedAt,
        resumedMs,
        acked: acked.length,
        lostExpirations: lostExpirations.length,
        jobs: jobs.length,
        lostJobs: lostJobs.length,
        callerErrors,
        switchMasterMs: switchedAt - killedAt,
        firstAcks: acked
          .filter((a) => a.at > killedAt)
          .slice(0, 3)
          .map((a) => a.at - killedAt),
      }),
    )
    expect(callerErrors.filter((e) => e.startsWith('raw'))).toEqual([])
    // Measured 1.9 s after +switch-master on a quiet machine, 3.8 s at load 25 (node-redis's
    // reconfiguration after the announcement); the bound leaves room for a loaded CI machine.
    expect(resumedMs).toBeLessThan(switchedAt - killedAt + 5000)
    await sub.close()
    // Replication is asynchronous: only writes of the last moments before the kill may be lost.
    expect(lostJobs.length).toBeLessThanOrEqual(2)
    expect(lostExpirations.length).toBeLessThanOrEqual(2)
    const closing = Date.now()
    await rk.close()
    expect(Date.now() - closing).toBeLessThan(5000)
  }, 90_000)
})
