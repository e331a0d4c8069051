import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
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
    const window = rk.slidingWindow('requests', { windowMs: 1200, precisionMs: 200 })
    expect(await window.incr()).toBe(1)
    expect(await window.incr(4)).toBe(5)
    await sleep(500)
    expect(await window.incr(2)).toBe(7)
    expect(await window.count()).toBe(7)
    await sleep(900) // the first 5 are now more than 1200 ms old
    expect(await window.count()).toBe(2)
    await sleep(1400)
    expect(await window.count()).toBe(0)
    const key = `${prefix}:{requests}:sw`
    // Memory is bounded by the ring: at most windowMs / precisionMs fields, whatever the traffic.
    for (let i = 0; i < 30; i++) {
      await window.incr()
      await sleep(50)
    }
    expect(await rk.connection.send<number>(['HLEN', key], { key })).toBeLessThanOrEqual(6)
  })

  it('sliding window: bad input refused and nothing changes; planted fields refused', async () => {
    const window = rk.slidingWindow('strict-window', { windowMs: 60_000, precisionMs: 1000 })
    await window.incr(3)
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(await errorCode(window.incr(n))).toBe('E_INVALID_ARGUMENT')
    expect(await window.count()).toBe(3)
    for (const bad of [{ windowMs: 1000, precisionMs: 300 }, { windowMs: 0 }, { windowMs: 100_000, precisionMs: 1 }, { windowMs: 2 ** 31 }])
      expect(await errorCode(() => rk.slidingWindow('x', bad))).toBe('E_INVALID_ARGUMENT')
    const key = `${prefix}:{strict-window}:sw`
    await rk.connection.send(['HSET', key, '0', 'garbage'], { key })
    expect(await errorCode(window.incr())).toBe('E_DECODE')
  })
})
