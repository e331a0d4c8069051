import { expect, it } from 'vitest'
import type { ExpiryEvent } from '../../src/events/index.js'
import type { TopologyUnderTest } from './topology.js'
import { eventually } from './wait.js'

/**
 * Each module's core promise, as `it` blocks for one topology: test/integration/contract.test.ts
 * runs it on standalone, Cluster and Sentinel; test/integration/acl.test.ts runs it again as a user
 * holding only the least-privilege ACL rules. The modules' own suites go deep; this one makes sure
 * none of them only works on one topology or with every permission.
 */
export function contractSuite(t: TopologyUnderTest): void {
  it('runs on the topology it names', () => {
    expect(t.rk.topology).toBe(t.name)
  })

  it('events: an expiry is delivered once, after its deadline, with its value', async () => {
    const seen: ExpiryEvent[] = []
    const sub = await t.rk.expirations.on(`${t.prefix}:contract-exp:*`, (e) => void seen.push(e), { withValue: true })
    const keys = Array.from({ length: 12 }, (_, i) => `${t.prefix}:contract-exp:${i}`)
    const before = Date.now()
    await Promise.all(keys.map((key, i) => t.rk.expirations.set(key, { i }, { ttlMs: 150 })))
    await eventually(() => seen.length >= keys.length, 10_000, 'every expiry delivered')
    expect(new Set(seen.map((e) => e.key))).toEqual(new Set(keys))
    expect(seen.length).toBe(keys.length)
    // The keys themselves are gone from Redis, wherever Cluster placed them.
    for (const key of keys) expect(await t.command(['EXISTS', key], key)).toBe(0)
    for (const e of seen) {
      expect(e.deadline).toBeGreaterThanOrEqual(before + 150 - 50)
      expect(e.value).toEqual({ i: Number(e.key.split(':').pop()) })
    }
    await sub.close()
  })

  it('cache: a miss loads once for concurrent callers, then hits without the loader', async () => {
    const cache = t.rk.cache<{ n: number }>('contract-cache', { ttlMs: 60_000 })
    let loads = 0
    const loader = async () => {
      loads++
      await new Promise((resolve) => setTimeout(resolve, 50))
      return { n: 7 }
    }
    const values = await Promise.all(Array.from({ length: 8 }, () => cache.getOrLoad('k', loader)))
    expect(values).toEqual(Array.from({ length: 8 }, () => ({ n: 7 })))
    expect(loads).toBe(1)
    expect(await cache.get('k')).toEqual({ n: 7 })
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()
  })

  it('messaging: every job added is processed exactly once', async () => {
    const queue = t.rk.queue<{ n: number }>('contract-queue')
    const done: number[] = []
    const worker = t.rk.worker<{ n: number }>('contract-queue', async (job) => void done.push(job.data.n), { concurrency: 4 })
    await Promise.all(Array.from({ length: 20 }, (_, n) => queue.add({ n })))
    await eventually(() => done.length >= 20, 10_000, 'every job processed')
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n))
    await worker.close()
  })

  it('messaging: a channel message reaches every subscriber', async () => {
    const channel = t.rk.channel<{ text: string }>('contract-chat')
    const a: string[] = []
    const b: string[] = []
    const subA = await channel.subscribe((m) => void a.push(m.text))
    const subB = await channel.subscribe((m) => void b.push(m.text))
    await channel.publish({ text: 'hi' })
    await eventually(() => a.length === 1 && b.length === 1, 5000, 'both subscribers heard it')
    await Promise.all([subA.close(), subB.close()])
  })

  it('lock: critical sections never overlap, and every contender gets in', async () => {
    let inside = 0
    let most = 0
    let count = 0
    await Promise.all(
      Array.from({ length: 6 }, () =>
        t.rk.lock('contract-lock').using(async () => {
          inside++
          most = Math.max(most, inside)
          await new Promise((resolve) => setTimeout(resolve, 5))
          inside--
          count++
        }),
      ),
    )
    expect(most).toBe(1)
    expect(count).toBe(6)
  })

  it('session: a created session reads back, and revoke-all ends it', async () => {
    const sessions = t.rk.sessions<{ cart: number }>({ idleTimeoutMs: 60_000 })
    const s = await sessions.create('ann', { cart: 2 })
    expect((await sessions.get(s.token))?.data).toEqual({ cart: 2 })
    expect(await sessions.destroyAllForUser('ann')).toBe(1)
    expect(await sessions.get(s.token)).toBeUndefined()
  })

  it('stats: the rate limiter allows exactly the limit; leaderboard, time series and unique counts add up', async () => {
    const limiter = t.rk.rateLimiter('contract-rl', { limit: 3, windowMs: 60_000, algorithm: 'fixed-window', inMemoryBlock: false })
    const decisions = []
    for (let i = 0; i < 5; i++) decisions.push((await limiter.consume('u')).allowed)
    expect(decisions).toEqual([true, true, true, false, false])

    const board = t.rk.leaderboard('contract-board')
    await board.add('ann', 10)
    await board.add('ben', 30)
    expect((await board.top(2)).map((e) => e.member)).toEqual(['ben', 'ann'])

    const at = Date.UTC(2030, 0, 1, 10, 0, 30)
    const views = t.rk.timeseries('contract-views', { granularities: ['minute', 'hour'] })
    await views.incr(2, at)
    await views.incr(3, at + 60_000)
    const hours = await views.range({ from: at, to: at + 60_000, granularity: 'hour' })
    expect(hours.reduce((sum, b) => sum + b.value, 0)).toBe(5)

    const visitors = t.rk.unique('contract-visitors')
    for (const who of ['a', 'b', 'a', 'c']) await visitors.add(who, at)
    // Two days apart: two buckets, which may sit on different Cluster nodes.
    await visitors.add('d', at + 2 * 86_400_000)
    expect(await visitors.count({ from: at, to: at })).toBe(3)
    expect(await visitors.count({ from: at, to: at + 2 * 86_400_000 })).toBe(4)
  })
}
