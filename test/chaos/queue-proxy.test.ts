import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { type ChaosProxy, startChaosProxy } from '../support/chaos-proxy.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'

const LEASE_MS = 1000
const CUTS = 20

// The worker's connections (main and blocking) go through a TCP proxy that cuts them 20 times.
// After each cut the worker must resume within 5 s, and no job may stay active longer than twice
// its visibility timeout.
describe('queue through a proxy that cuts connections', () => {
  let proxy: ChaosProxy
  let direct: Redkit
  let viaProxy: Redkit
  let prefix: string

  beforeAll(async () => {
    const target = new URL(standaloneUrl())
    proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    prefix = testPrefix()
    direct = await createRedkit({ url: standaloneUrl(), prefix })
    viaProxy = await createRedkit({ url: proxy.url, prefix, connectTimeoutMs: 2000 })
  })
  afterAll(async () => {
    await viaProxy?.close()
    await direct?.close()
    await proxy?.close()
  })

  it('resumes within 5 s after each of 20 cuts; no job active longer than 2x its visibility timeout', async () => {
    const queue = direct.queue<number>('jobs')
    const done = new Set<string>()
    const worker = viaProxy.worker<number>(
      'jobs',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 40))
      },
      { concurrency: 4, visibilityTimeoutMs: LEASE_MS, keepCompleted: Number.POSITIVE_INFINITY },
    )
    worker.on('completed', (job) => done.add(job.id))
    worker.on('error', () => {})

    // Watch the active set from outside: how long has each job been active?
    const firstSeen = new Map<string, number>()
    let longest = 0
    let watching = true
    const watcher = (async () => {
      while (watching) {
        const members = await direct.connection.send<string[]>(['ZRANGE', queue.keys.active, '0', '-1'], { key: queue.keys.active })
        const now = Date.now()
        const ids = new Set(members.map((m) => m.slice(m.indexOf(':') + 1)))
        for (const id of ids) if (!firstSeen.has(id)) firstSeen.set(id, now)
        for (const [id, at] of firstSeen) {
          if (!ids.has(id)) firstSeen.delete(id)
          else longest = Math.max(longest, now - at)
        }
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()

    const resumeMs: number[] = []
    let n = 0
    for (let cut = 0; cut < CUTS; cut++) {
      await queue.addBulk(Array.from({ length: 10 }, () => ({ data: n, options: { jobId: `job-${n++}` } })))
      await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 100))
      proxy.cut()
      const cutAt = Date.now()
      const probe = `probe-${cut}`
      await queue.add(-1, { jobId: probe })
      while (!done.has(probe) && Date.now() - cutAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 10))
      resumeMs.push(Date.now() - cutAt)
    }
    const total = n + CUTS
    const deadline = Date.now() + 10_000
    while (done.size < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    watching = false
    await watcher
    await worker.close()

    expect(Math.max(...resumeMs)).toBeLessThan(5000)
    expect(longest).toBeLessThan(2 * LEASE_MS)
    expect(done.size).toBe(total)
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: total, dead: 0 })
    console.log(
      `resume after cut: max ${Math.max(...resumeMs)} ms, median ${resumeMs.sort((a, b) => a - b)[CUTS >> 1]} ms; longest active ${longest} ms`,
    )
  }, 120_000)

  it('re-subscribes a channel after its connection is cut', async () => {
    const channel = viaProxy.channel<number>('resilient')
    const got: number[] = []
    await channel.subscribe((n) => {
      got.push(n)
    })
    const publisher = direct.channel<number>('resilient')
    await publisher.publish(0)
    for (let cut = 1; cut <= 5; cut++) {
      proxy.cut()
      const deadline = Date.now() + 5000
      while (!got.includes(cut) && Date.now() < deadline) {
        await publisher.publish(cut)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(got).toContain(cut)
    }
  })
})
