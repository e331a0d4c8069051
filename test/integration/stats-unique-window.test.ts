import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { COUNT_STEP } from '../../src/stats/unique.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { sleep } from '../support/wait.js'

const t = (iso: string) => Date.parse(iso)

describe.each(TOPOLOGIES)('unique counts and sliding windows on %s', (_name, options) => {
  let rk: Redkit
  let prefix: string
  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('daily visitors: add per day, count merges the days of a range (one slot, so PFCOUNT works on Cluster)', async () => {
    const visitors = rk.unique('visitors')
    const day = (d: number) => t(`2030-05-${String(d).padStart(2, '0')}T12:00:00Z`)
    await visitors.addMany(
      Array.from({ length: 1000 }, (_, i) => `u${i}`),
      day(1),
    )
    await visitors.addMany(
      Array.from({ length: 1000 }, (_, i) => `u${i + 500}`),
      day(2),
    ) // 500 seen on day 1 too
    expect(await visitors.add('u1', day(3))).toBe(true)
    expect(await visitors.add('u1', day(3))).toBe(false)
    const one = await visitors.count({ from: day(1), to: day(1) })
    const all = await visitors.count({ from: day(1), to: day(3) })
    expect(Math.abs(one - 1000)).toBeLessThan(30)
    expect(Math.abs(all - 1500)).toBeLessThan(45)
    expect(await visitors.count({ from: day(10), to: day(12) })).toBe(0)
    const keys = [1, 2, 3].map((d) => `${prefix}:{visitors}:hll:${t(`2030-05-0${d}T00:00:00Z`)}`)
    expect(new Set(keys.map(hashSlot)).size).toBe(1)
    expect(await rk.connection.send(['EXISTS', ...keys], { key: keys[0] })).toBe(3)
    const expiry = await rk.connection.send<number>(['PEXPIRETIME', keys[0] as string], { key: keys[0] })
    expect(expiry).toBe(t('2030-05-02T00:00:00Z') + 400 * 86_400_000)
  })

  it('unique: hours in a time zone, bad input refused, planted data a typed error', async () => {
    const hourly = rk.unique('hourly', { granularity: 'hour', timeZone: 'Asia/Kolkata', retentionMs: 3_600_000 })
    await hourly.add('a', t('2030-05-17T13:29:00Z'))
    await hourly.add('b', t('2030-05-17T13:31:00Z')) // the next hour in Kolkata (+05:30)
    expect(await hourly.count({ from: t('2030-05-17T13:30:00Z'), to: t('2030-05-17T14:00:00Z') })).toBe(1)
    for (const m of ['', '\uDC00', 'x'.repeat(1025)]) expect(await errorCode(hourly.add(m))).toBe('E_INVALID_KEY')
    expect(await errorCode(hourly.addMany('ab' as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(hourly.add('a', Number.NaN))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(hourly.count({ from: 5, to: 1 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(hourly.count({ from: 0, to: t('2030-01-01T00:00:00Z') }))).toBe('E_INVALID_ARGUMENT')
    const key = `${prefix}:{planted}:hll:${t('2030-05-17T00:00:00Z')}`
    await rk.connection.send(['SET', key, 'not a hyperloglog'], { key })
    const planted = rk.unique('planted')
    expect(await errorCode(planted.add('x', t('2030-05-17T08:00:00Z')))).toMatch(/^E_(SCRIPT|REDIS)$/)
    expect(await errorCode(planted.count({ from: t('2030-05-17T08:00:00Z'), to: t('2030-05-17T09:00:00Z') }))).toMatch(/^E_(SCRIPT|REDIS)$/)
    expect(await rk.connection.send(['GET', key], { key })).toBe('not a hyperloglog')
  })

  it('sliding window: counts the last window at bucket precision, forgets what slid out', async () => {
    // At bucket precision a count stays in the window 2500 to 3000 ms: the sleeps leave 700 ms or
    // more of margin on each side for a loaded machine.
    const window = rk.slidingWindow('requests', { windowMs: 3000, precisionMs: 500 })
    expect(await window.incr()).toBe(1)
    expect(await window.incr(4)).toBe(5)
    await sleep(1200)
    expect(await window.incr(2)).toBe(7)
    expect(await window.count()).toBe(7)
    await sleep(1800) // the first 5 are now at least 3000 ms old, the last 2 at most ~1800 + load
    expect(await window.count()).toBe(2)
    await sleep(3100)
    expect(await window.count()).toBe(0)
    const key = `${prefix}:{requests}:sw`
    // Memory is bounded by the ring: at most windowMs / precisionMs fields, whatever the traffic.
    for (let i = 0; i < 30; i++) {
      await window.incr()
      await sleep(50)
    }
    // 6 ring fields, the running total and its bucket.
    expect(await rk.connection.send<number>(['HLEN', key], { key })).toBeLessThanOrEqual(8)
  })

  it('sliding window: bad input refused and nothing changes; planted fields refused', async () => {
    const window = rk.slidingWindow('strict-window', { windowMs: 60_000, precisionMs: 1000 })
    await window.incr(3)
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(await errorCode(window.incr(n))).toBe('E_INVALID_ARGUMENT')
    expect(await window.count()).toBe(3)
    for (const bad of [{ windowMs: 1000, precisionMs: 300 }, { windowMs: 0 }, { windowMs: 100_000, precisionMs: 1 }, { windowMs: 2 ** 31 }])
      expect(await errorCode(() => rk.slidingWindow('x', bad))).toBe('E_INVALID_ARGUMENT')
    const key = `${prefix}:{strict-window}:sw`
    // A planted field is refused when the window reaches it (here: every field of the ring).
    const ring = Array.from({ length: 60 }, (_, i) => [String(i), 'garbage']).flat()
    await rk.connection.send(['HSET', key, ...ring], { key })
    expect(await errorCode(window.incr())).toBe('E_DECODE')
    await rk.connection.send(['DEL', key], { key })
    await window.incr(2)
    await rk.connection.send(['HSET', key, 't', '-5'], { key })
    expect(await errorCode(window.count())).toBe('E_DECODE')
    expect(await rk.connection.send(['HGET', key, 't'], { key })).toBe('-5')
  })

  // Review finding 9: without precisionMs, windows of 1 s, 5 s or 10 s were refused (windowMs / 60 did not divide them).
  it('sliding window: the default precision divides windowMs (1 s, 5 s, 10 s work); a window with no such divisor asks for precisionMs', () => {
    for (const [windowMs, precisionMs] of [
      [1000, 10],
      [5000, 50],
      [10_000, 125],
      [60_000, 1000],
      [3_600_000, 60_000],
      [45, 1],
    ] as const)
      expect(rk.slidingWindow(`default-${windowMs}`, { windowMs }).precisionMs, String(windowMs)).toBe(precisionMs)
    let message = ''
    try {
      rk.slidingWindow('prime', { windowMs: 10_007 })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/pass precisionMs/)
  })

  it('sliding window: a running total gives the same counts as summing the ring; a ring written without one is summed once', async () => {
    // Buckets of 400 ms: four round trips fit in one even on a loaded machine.
    const window = rk.slidingWindow('running', { windowMs: 2400, precisionMs: 400 })
    const key = `${prefix}:{running}:sw`
    const serverNow = async () => {
      const [sec, us] = await rk.connection.send<[string, string]>(['TIME'], { key })
      return Number(sec) * 1000 + Math.floor(Number(us) / 1000)
    }
    // The running total must equal the sum of the ring's fields in the window (what the old script computed).
    const ringSum = async (): Promise<[count: number, sum: number] | undefined> => {
      const before = Math.floor((await serverNow()) / 400)
      const count = await window.count()
      const fields = await rk.connection.send<Record<string, string> | string[]>(['HGETALL', key], { key })
      const after = Math.floor((await serverNow()) / 400)
      if (before !== after) return undefined // a bucket boundary passed in between: measure again
      const pairs = Array.isArray(fields) ? fields : Object.entries(fields).flat()
      let sum = 0
      for (let i = 0; i < pairs.length; i += 2) {
        if (pairs[i] === 'h' || pairs[i] === 't') continue
        const [index, n] = String(pairs[i + 1])
          .split(':')
          .map(Number) as [number, number]
        if (index > before - 6 && index <= before) sum += n
      }
      return [count, sum]
    }
    let compared = 0
    for (let i = 0; i < 25; i++) {
      await window.incr(1 + (i % 4))
      for (let attempt = 0; attempt < 20; attempt++) {
        const seen = await ringSum()
        if (!seen) continue
        expect(seen[0]).toBe(seen[1])
        compared++
        break
      }
      await sleep(i % 5 === 0 ? 900 : 100 + (i % 3) * 150) // within a bucket, across one, across several
    }
    expect(compared).toBeGreaterThan(12)
    await sleep(2600)
    expect(await window.count()).toBe(0)
    // A ring without the running total (an older redkit) is summed once, then kept up to date.
    await rk.connection.send(['DEL', key], { key })
    const b = Math.floor((await serverNow()) / 400)
    await rk.connection.send(
      [
        'HSET',
        key,
        String(b % 6),
        `${b}:5`,
        String((b - 1) % 6),
        `${b - 1}:3`,
        String((b - 9) % 6), // a bucket long out of the window
        `${b - 9}:100`,
      ],
      { key },
    )
    expect(await window.count()).toBe(8)
    expect(await window.incr(1)).toBeGreaterThanOrEqual(9)
  })

  // Review finding 13: every call read the whole ring (~30 ms of server time at 10,000 buckets).
  it('sliding window: a call touches only the buckets that left the window, not the ring (10,000 buckets)', {
    timeout: 60_000,
  }, async () => {
    const server = await startRedisServer()
    const own = await createRedkit({ url: server.url, prefix: testPrefix() })
    try {
      const wide = own.slidingWindow('wide', { windowMs: 1_000_000, precisionMs: 100 })
      await wide.incr() // loads the script
      await own.connection.send(['CONFIG', 'RESETSTAT'])
      for (let i = 0; i < 100; i++) await wide.incr()
      expect(await wide.count()).toBe(101)
      const stats = await own.connection.send<string>(['INFO', 'commandstats'])
      const perCall = Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(stats)?.[1])
      // Reading 10,000 fields took 21,000-36,000 µs per call; a running total takes tens.
      expect(perCall).toBeGreaterThan(0)
      expect(perCall).toBeLessThan(2000)
    } finally {
      await own.close()
      await server.stop()
    }
  })

  // Review finding 16: a count over a year of hours was one PFCOUNT of 8,784 keys (~0.64 s of server time).
  it('unique: a count over more than 100 buckets merges them in steps and leaves no temporary key', { timeout: 60_000 }, async () => {
    const hours = COUNT_STEP * 2 + 50
    const counter = rk.unique('many-hours', { granularity: 'hour' })
    const start = t('2030-06-01T00:00:00Z')
    for (let h = 0; h < hours; h++) await counter.addMany([`h${h}`, 'everyone', `x${h % 7}`], start + h * 3_600_000)
    const keys = Array.from({ length: hours }, (_, h) => `${prefix}:{many-hours}:hll:${start + h * 3_600_000}`)
    const direct = await rk.connection.send<number>(['PFCOUNT', ...keys], { key: keys[0] })
    const counted = await counter.count({ from: start, to: start + (hours - 1) * 3_600_000 })
    expect(counted).toBe(direct)
    expect(Math.abs(counted - (hours + 8))).toBeLessThan((hours + 8) * 0.03)
    let cursor = '0'
    const left: string[] = []
    do {
      const [next, found] = await rk.connection.send<[string, string[]]>(
        ['SCAN', cursor, 'MATCH', `${prefix}:{many-hours}:hll-merge:*`, 'COUNT', '1000'],
        { key: keys[0] },
      )
      cursor = next
      left.push(...found)
    } while (cursor !== '0')
    expect(left).toEqual([])
  })
})
