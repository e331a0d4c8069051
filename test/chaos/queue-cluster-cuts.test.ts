import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster } from '../support/cluster.js'

const LEASE_MS = 1000
const CUTS = 20

// The same connection-cut scenario as queue-proxy.test.ts, on Cluster: every client connection to
// every master is killed (CLIENT KILL) 20 times. The cluster is this file's own, so no other test
// loses its connections.
describe('queue on a Cluster whose connections are killed', () => {
  let nodes: RedisProcess[] = []
  let admin: Redkit
  let rk: Redkit

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs() })))
    await formCluster(nodes)
    const rootNodes = nodes.map((n) => n.url)
    for (const deadline = Date.now() + 20_000; ; ) {
      try {
        admin = await createRedkit({ cluster: { rootNodes }, prefix: 'cuts' })
        const infos = await Promise.all(admin.connection.masters().map((m) => m.send<string>(['CLUSTER', 'INFO'])))
        if (admin.connection.masters().length === 3 && infos.every((i) => i.includes('cluster_state:ok'))) break
        await admin.close()
      } catch {
        // not ready yet
      }
      if (Date.now() > deadline) throw new Error('throwaway cluster not ready')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    rk = await createRedkit({ cluster: { rootNodes }, prefix: 'cuts', connectTimeoutMs: 2000 })
  }, 60_000)

  afterAll(async () => {
    await rk?.close()
    await admin?.close()
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('resumes within 5 s after each of 20 cuts; every job completes; none active longer than 2x its lease', async () => {
    const queue = admin.queue<number>('jobs')
    const done = new Set<string>()
    const worker = rk.worker<number>(
      'jobs',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 20))
      },
      { concurrency: 4, visibilityTimeoutMs: LEASE_MS, keepCompleted: Number.POSITIVE_INFINITY },
    )
    worker.on('completed', (job) => done.add(job.id))
    worker.on('error', () => {})
    const add = async (data: number, jobId: string) => {
      for (;;) {
        try {
          return await queue.add(data, { jobId })
        } catch (error) {
          if (!isRedkitError(error)) throw error
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
    }
    // Watch the active set: how long has each job been active?
    const firstSeen = new Map<string, number>()
    let longest = 0
    let watching = true
    const watcher = (async () => {
      while (watching) {
        const members = await admin.connection
          .send<string[]>(['ZRANGE', queue.keys.active, '0', '-1'], { key: queue.keys.active })
          .catch(() => [] as string[])
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
    let kills = 0
    let n = 0
    for (let cut = 0; cut < CUTS; cut++) {
      for (let i = 0; i < 10; i++) await add(n, `job-${n++}`)
      await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 70))
      // Kill every client connection but the admin's own on each master.
      const killed = await Promise.all(
        admin.connection.masters().map((m) => m.send<number>(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']).catch(() => 0)),
      )
      kills += killed.reduce((a, b) => a + b, 0)
      const cutAt = Date.now()
      const probe = `probe-${cut}`
      await add(-1, probe)
      while (!done.has(probe) && Date.now() - cutAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 10))
      resumeMs.push(Date.now() - cutAt)
    }
    const total = n + CUTS
    const deadline = Date.now() + 15_000
    while (done.size < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    watching = false
    await watcher
    await worker.close()
    expect(kills).toBeGreaterThanOrEqual(CUTS * 2)
    expect(Math.max(...resumeMs)).toBeLessThan(5000)
    expect(longest).toBeLessThan(2 * LEASE_MS)
    expect(done.size).toBe(total)
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: total, dead: 0 })
    console.log(
      `cluster: resume after cut max ${Math.max(...resumeMs)} ms, median ${resumeMs.sort((a, b) => a - b)[CUTS >> 1]} ms; longest active ${longest} ms`,
    )
  }, 120_000)

  it('re-subscribes sharded channels after their connections are killed', async () => {
    const channels = ['room-a', 'room-b', 'room-c'].map((name) => rk.channel<number>(name))
    const got = new Map<string, number[]>()
    for (const channel of channels) {
      got.set(channel.name, [])
      await channel.subscribe((n) => {
        got.get(channel.name)?.push(n)
      })
    }
    for (let cut = 1; cut <= 5; cut++) {
      const killed = await Promise.all(
        admin.connection.masters().map((m) => m.send<number>(['CLIENT', 'KILL', 'TYPE', 'pubsub']).catch(() => 0)),
      )
      expect(killed.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
      for (const channel of channels) {
        const publisher = admin.channel<number>(channel.name)
        const deadline = Date.now() + 5000
        while (!got.get(channel.name)?.includes(cut) && Date.now() < deadline) {
          await publisher.publish(cut).catch(() => 0)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        expect(got.get(channel.name)).toContain(cut)
      }
    }
  })
})
