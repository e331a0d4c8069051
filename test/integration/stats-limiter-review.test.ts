import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

/**
 * Regressions from the adversarial review of 2026-12-01 (docs/reviews/2026-12-01-stats.md),
 * rate limiter findings 1, 4, 12, 17 and 19.
 */
const ALGORITHMS = ['sliding-window', 'token-bucket', 'fixed-window'] as const
const PART = { 'sliding-window': 'rl-log', 'token-bucket': 'rl-tat', 'fixed-window': 'rl-fixed' } as const

describe.each(TOPOLOGIES)('rate limiter review regressions on %s', (_name, options) => {
  let rk: Redkit
  let prefix: string
  const keyOf = (name: string, key: string, algorithm: keyof typeof PART, limit: number, windowMs: number) =>
    `${prefix}:{${name}:${key}}:${PART[algorithm]}:${limit}:${windowMs}`
  const send = <T>(args: string[]) => rk.connection.send<T>(args, { key: args[1] })
  /** The server's clock in ms, read on the node that holds `key`. */
  const serverMs = async (key: string) => {
    const [seconds, micros] = await rk.connection.send<[string, string]>(['TIME'], { key })
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('sliding window: an entry dated an hour ahead (server clock stepped back) denies for at most one window', async () => {
    const rl = rk.rateLimiter('future', { limit: 5, windowMs: 1000, inMemoryBlock: false })
    const key = keyOf('future', 'k', 'sliding-window', 5, 1000)
    await send(['ZADD', key, String((await serverMs(key)) + 3_600_000), '0000000000000001:1'])
    await send(['PEXPIRE', key, '3601000'])
    let denied = 0
    for (let i = 0; i < 6; i++) if (!(await rl.consume('k')).allowed) denied++
    expect(denied).toBe(2)
    const refused = await rl.peek('k')
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1000)
    expect(await send<number>(['PTTL', key])).toBeLessThanOrEqual(1000)
    await eventually(async () => (await rl.consume('k')).allowed, 3000, 'the key allowed again within a window')
  })

  it('sliding window: a planted +inf score is moved to now, not an E_SCRIPT that grows the log', async () => {
    const rl = rk.rateLimiter('inf', { limit: 5, windowMs: 500, inMemoryBlock: false })
    const key = keyOf('inf', 'k', 'sliding-window', 5, 500)
    await send(['ZADD', key, '+inf', '0000000000000001:1'])
    expect((await rl.consume('k')).allowed).toBe(true)
    expect(await send<number>(['ZCARD', key])).toBe(2)
    expect(await send<string>(['ZSCORE', key, '0000000000000001:1'])).not.toBe('inf')
    await eventually(async () => (await rl.peek('k')).remaining === 5, 3000, 'the planted entry left the window')
  })

  it('sliding window: a cumulative near 2^53 restarts from the window base instead of writing what it then refuses', async () => {
    const rl = rk.rateLimiter('cum', { limit: 10_000, windowMs: 60_000, inMemoryBlock: false })
    const key = keyOf('cum', 'k', 'sliding-window', 10_000, 60_000)
    await send(['ZADD', key, String(await serverMs(key)), `${2 ** 53 - 10}:5`])
    expect(await rl.consume('k', 1500)).toMatchObject({ allowed: true, remaining: 10_000 - 1505 })
    for (let i = 0; i < 3; i++) expect((await rl.consume('k', 1000)).allowed).toBe(true)
    expect((await rl.peek('k')).remaining).toBe(10_000 - 4505)
    const members = await send<string[]>(['ZRANGE', key, '0', '-1'])
    for (const m of members) expect(Number(m.split(':')[0])).toBeLessThan(2 ** 52)
  })

  it('token bucket: a planted TAT far ahead without a TTL is clamped and stored with one, so the retry-after holds', async () => {
    const rl = rk.rateLimiter('tat', { limit: 5, windowMs: 500, algorithm: 'token-bucket', inMemoryBlock: false })
    const key = keyOf('tat', 'k', 'token-bucket', 5, 500)
    await send(['SET', key, '1e308'])
    const denied = await rl.consume('k')
    expect(denied.allowed).toBe(false)
    expect(denied.retryAfterMs).toBeLessThanOrEqual(100)
    const ttl = await send<number>(['PTTL', key])
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(500)
    await sleep(denied.retryAfterMs + 20)
    expect((await rl.consume('k')).allowed).toBe(true)
  })

  it.each(ALGORITHMS)('%s: a reset racing an in-flight consume leaves no in-memory block behind', async (algorithm) => {
    const rl = rk.rateLimiter(`race-${algorithm}`, { limit: 3, windowMs: 60_000, algorithm })
    for (let round = 0; round < 5; round++) {
      await rl.reset('k')
      await rl.consume('k')
      await rl.consume('k')
      const inFlight = rl.consume('k')
      // Let the batcher send the decision first: its reply then arrives while reset() runs.
      for (let i = 0; i < 5; i++) await null
      await rl.reset('k')
      await inFlight
      const after = await rl.consume('k')
      expect(after.allowed).toBe(true)
      expect(after.at).toBeDefined() // decided by Redis, not by a stale block
    }
  })

  it.each(ALGORITHMS)('%s: limiters of one name with other windows or limits never share state', async (algorithm) => {
    const strict = rk.rateLimiter('shared', { limit: 5, windowMs: 60_000, algorithm, inMemoryBlock: false })
    const loose = rk.rateLimiter('shared', { limit: 100, windowMs: 1000, algorithm, inMemoryBlock: false })
    let allowed = 0
    for (let i = 0; i < 25; i++) {
      if ((await strict.consume(`u-${algorithm}`)).allowed) allowed++
      await loose.consume(`u-${algorithm}`)
    }
    expect(allowed).toBe(5)
    expect((await loose.peek(`u-${algorithm}`)).remaining).toBeGreaterThanOrEqual(75)
    expect(await errorCode(strict.reset(`u-${algorithm}`))).toBeUndefined()
  })
})

describe.each(TOPOLOGIES)('leaderboard, timeseries and clock review regressions on %s', (_name, options) => {
  let rk: Redkit
  beforeAll(async () => {
    rk = await createRedkit({ ...options(), prefix: testPrefix() })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('scores and counts near 2^53 come back exact (strings from Lua, not inexact integer replies)', async () => {
    const lb = rk.leaderboard('big')
    expect(await lb.add('m', 2 ** 53 - 1)).toMatchObject({ score: 2 ** 53 - 1, rank: 1 })
    expect(await lb.add('n', 2 ** 53 - 3)).toMatchObject({ score: 2 ** 53 - 3, rank: 2 })
    const ts = rk.timeseries('big', { granularities: ['minute'] })
    expect((await ts.incr(2 ** 53 - 1)).minute).toBe(2 ** 53 - 1)
    const sw = rk.slidingWindow('big', { windowMs: 60_000 })
    expect(await sw.incr(2 ** 53 - 1)).toBe(2 ** 53 - 1)
    expect(await sw.count()).toBe(2 ** 53 - 1)
  })

  it.each(['desc', 'asc'] as const)('%s: re-setting the same score or incr by 0 keeps the tie-break', async (order) => {
    const lb = rk.leaderboard(`ties-${order}`, { order })
    for (const m of ['alice', 'bob', 'carol']) await lb.add(m, 10)
    await lb.add('alice', 10)
    await lb.incr('bob', 0)
    expect((await lb.top(3)).map((e) => e.member)).toEqual(['alice', 'bob', 'carol'])
  })

  it('an incr at a time older than a retention reports 0 for the buckets it could not keep', async () => {
    const ts = rk.timeseries('past', { retention: { minute: 60_000, hour: 3_600_000 } })
    const reply = await ts.incr(5, Date.now() - 3 * 86_400_000)
    expect(reply).toMatchObject({ minute: 0, hour: 0, day: 5, month: 5 })
  })

  it('a step back of this process’s wall clock does not move writes to another day', async () => {
    const ts = rk.timeseries('clock-step', { granularities: ['day'] })
    await ts.incr(1)
    const realNow = Date.now
    Date.now = () => realNow() - 2 * 86_400_000
    try {
      await ts.incr(1)
    } finally {
      Date.now = realNow
    }
    const today = await ts.range({ from: Date.now(), to: Date.now(), granularity: 'day' })
    expect(today[0]?.value).toBe(2)
  })
})
