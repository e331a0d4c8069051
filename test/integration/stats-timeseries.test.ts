import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

const t = (iso: string) => Date.parse(iso)

/** Counts what reaches the connection while `run` runs (the driver and Redis below it are real). */
async function roundTrips(rk: Redkit, run: () => Promise<unknown>): Promise<number> {
  const send = rk.connection.send.bind(rk.connection)
  let sent = 0
  rk.connection.send = ((...args: Parameters<typeof send>) => {
    sent++
    return send(...args)
  }) as typeof send
  try {
    await run()
  } finally {
    rk.connection.send = send
  }
  return sent
}

describe.each(TOPOLOGIES)('timeseries on %s', (_name, options) => {
  let rk: Redkit
  let prefix: string
  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('incr updates all four granularities in one round trip; range returns every bucket, empty ones as 0', async () => {
    const views = rk.timeseries('views')
    await views.incr(3, t('2030-05-17T10:15:30Z')) // (the first call also loads the script: EVALSHA, NOSCRIPT, EVAL)
    expect(await roundTrips(rk, () => views.incr(1, t('2030-05-17T10:15:59Z')))).toBe(1)
    await views.incr(2, t('2030-05-17T10:17:00Z'))
    expect(await views.incr(4, t('2030-05-17T12:00:00Z'))).toEqual({ minute: 4, hour: 4, day: 10, month: 10 })
    expect(await views.range({ from: t('2030-05-17T10:14:00Z'), to: t('2030-05-17T10:18:00Z'), granularity: 'minute' })).toEqual([
      { start: t('2030-05-17T10:14:00Z'), value: 0 },
      { start: t('2030-05-17T10:15:00Z'), value: 4 },
      { start: t('2030-05-17T10:16:00Z'), value: 0 },
      { start: t('2030-05-17T10:17:00Z'), value: 2 },
      { start: t('2030-05-17T10:18:00Z'), value: 0 },
    ])
    const hours = await views.range({ from: t('2030-05-17T09:59:00Z'), to: t('2030-05-17T12:59:00Z'), granularity: 'hour' })
    expect(hours.map((b) => b.value)).toEqual([0, 6, 0, 4])
    expect(await views.range({ from: new Date('2030-05-01'), to: new Date('2030-06-30'), granularity: 'month' })).toEqual([
      { start: t('2030-05-01T00:00:00Z'), value: 10 },
      { start: t('2030-06-01T00:00:00Z'), value: 0 },
    ])
  })

  it('retention per granularity: each bucket expires that long after it ends', async () => {
    const series = rk.timeseries('kept', { granularities: ['minute', 'day'], retention: { minute: 3_600_000, day: 86_400_000 } })
    await series.incr(1, t('2030-05-17T10:15:30Z'))
    const key = (g: string, start: string) => `${prefix}:{kept}:ts:${g}:${t(start)}`
    const expiry = (k: string) => rk.connection.send<number>(['PEXPIRETIME', k], { key: k })
    expect(await expiry(key('minute', '2030-05-17T10:15:00Z'))).toBe(t('2030-05-17T11:16:00Z'))
    expect(await expiry(key('day', '2030-05-17T00:00:00Z'))).toBe(t('2030-05-19T00:00:00Z'))
    expect(await rk.connection.send(['EXISTS', key('hour', '2030-05-17T10:00:00Z')], { key: key('hour', '2030-05-17T10:00:00Z') })).toBe(0)
    expect(await errorCode(series.range({ from: 0, to: 1, granularity: 'hour' }))).toBe('E_INVALID_ARGUMENT')
  })

  it('day and month buckets follow the time zone', async () => {
    const tokyo = rk.timeseries('tokyo', { granularities: ['day', 'month'], timeZone: 'Asia/Tokyo' })
    await tokyo.incr(1, t('2030-05-31T14:59:00Z')) // 23:59 on May 31st in Tokyo
    await tokyo.incr(1, t('2030-05-31T15:00:00Z')) // 00:00 on June 1st in Tokyo
    const days = await tokyo.range({ from: t('2030-05-30T15:00:00Z'), to: t('2030-06-01T14:59:00Z'), granularity: 'day' })
    expect(days).toEqual([
      { start: t('2030-05-30T15:00:00Z'), value: 1 },
      { start: t('2030-05-31T15:00:00Z'), value: 1 },
    ])
  })

  it('now is the server clock by default', async () => {
    const live = rk.timeseries('live', { granularities: ['minute'] })
    const result = await live.incr()
    expect(result.minute).toBe(1)
    const [seconds] = await rk.connection.send<[string, string]>(['TIME'])
    const now = Number(seconds) * 1000
    const buckets = await live.range({ from: now - 120_000, to: now + 60_000, granularity: 'minute' })
    expect(buckets.reduce((sum, b) => sum + b.value, 0)).toBe(1)
  })

  it('bad counts, times and options are RedkitErrors and change nothing; planted buckets are refused', async () => {
    const series = rk.timeseries('strict', { granularities: ['minute', 'hour'] })
    await series.incr(5, t('2030-05-17T10:00:00Z'))
    for (const n of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, '2' as unknown as number])
      expect(await errorCode(series.incr(n, t('2030-05-17T10:00:00Z')))).toBe('E_INVALID_ARGUMENT')
    for (const at of [Number.NaN, -5, Number.POSITIVE_INFINITY, new Date('nope'), 'today' as unknown as number])
      expect(await errorCode(series.incr(1, at))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(series.range({ from: 10, to: 5, granularity: 'minute' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(series.range({ from: 0, to: t('2030-01-01T00:00:00Z'), granularity: 'minute' }))).toBe('E_INVALID_ARGUMENT')
    const hourKey = `${prefix}:{strict}:ts:hour:${t('2030-05-17T10:00:00Z')}`
    await rk.connection.send(['SET', hourKey, 'garbage'], { key: hourKey })
    expect(await errorCode(series.incr(1, t('2030-05-17T10:00:00Z')))).toBe('E_DECODE')
    const minutes = await series.range({ from: t('2030-05-17T10:00:00Z'), to: t('2030-05-17T10:00:00Z'), granularity: 'minute' })
    expect(minutes).toEqual([{ start: t('2030-05-17T10:00:00Z'), value: 5 }]) // the refused call wrote nothing
    expect(await errorCode(series.range({ from: t('2030-05-17T10:00:00Z'), to: t('2030-05-17T10:00:00Z'), granularity: 'hour' }))).toBe(
      'E_DECODE',
    )
    for (const bad of [{ granularities: [] }, { granularities: ['week'] }, { retention: { minute: 0 } }, { timeZone: 'Nowhere/City' }])
      expect(await errorCode(() => rk.timeseries('x', bad as never))).toBe('E_INVALID_ARGUMENT')
  })
})
