import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { countSends, errorCode, TOPOLOGIES } from '../support/expect.js'
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

  // Review finding 8: DST at local midnight, half-hour DST; one shared helper (src/core/time-zone.ts).
  it('day and hour buckets across DST: Havana skips midnight, Lord Howe moves half an hour, New York repeats 01:00', async () => {
    const havana = rk.timeseries('havana', { granularities: ['day'], timeZone: 'America/Havana' })
    await havana.incr(1, t('2027-03-14T04:59:00Z')) // 23:59 CST on the 13th
    await havana.incr(2, t('2027-03-14T05:00:00Z')) // 01:00 CDT on the 14th (00:00 never happens)
    expect(await havana.range({ from: t('2027-03-13T12:00:00Z'), to: t('2027-03-15T12:00:00Z'), granularity: 'day' })).toEqual([
      { start: t('2027-03-13T05:00:00Z'), value: 1 },
      { start: t('2027-03-14T05:00:00Z'), value: 2 }, // a 23-hour day
      { start: t('2027-03-15T04:00:00Z'), value: 0 },
    ])
    const lordHowe = rk.timeseries('lord-howe', { granularities: ['hour'], timeZone: 'Australia/Lord_Howe' })
    await lordHowe.incr(1, t('2027-10-02T15:15:00Z')) // 01:45 (+10:30) on Oct 3rd
    await lordHowe.incr(1, t('2027-10-02T15:45:00Z')) // 02:45 (+11): 02:00-02:30 never happens
    expect(await lordHowe.range({ from: t('2027-10-02T14:30:00Z'), to: t('2027-10-02T16:30:00Z'), granularity: 'hour' })).toEqual([
      { start: t('2027-10-02T14:30:00Z'), value: 1 },
      { start: t('2027-10-02T15:30:00Z'), value: 1 }, // half an hour long, cut at the change
      { start: t('2027-10-02T16:00:00Z'), value: 0 },
    ])
    const ny = rk.timeseries('new-york', { granularities: ['hour', 'day'], timeZone: 'America/New_York' })
    await ny.incr(1, t('2027-11-07T05:30:00Z')) // 01:30 EDT
    await ny.incr(1, t('2027-11-07T06:30:00Z')) // 01:30 EST: another hour, another bucket
    expect(await ny.range({ from: t('2027-11-07T05:00:00Z'), to: t('2027-11-07T06:59:00Z'), granularity: 'hour' })).toEqual([
      { start: t('2027-11-07T05:00:00Z'), value: 1 },
      { start: t('2027-11-07T06:00:00Z'), value: 1 },
    ])
    expect(await ny.range({ from: t('2027-11-07T12:00:00Z'), to: t('2027-11-08T12:00:00Z'), granularity: 'day' })).toEqual([
      { start: t('2027-11-07T04:00:00Z'), value: 2 }, // 25 hours
      { start: t('2027-11-08T05:00:00Z'), value: 0 },
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

  // Review finding 7 (b): range read '0x10', '1e5', '1.0', '  7' as numbers that incr refused; an over-2^53 bucket blamed the caller.
  it('range and incr decode buckets by one rule: planted non-digit or over-2^53 buckets are E_DECODE for both; names are checked', async () => {
    const series = rk.timeseries('decoder', { granularities: ['minute'] })
    const at = t('2030-05-18T10:00:00Z')
    const key = `${prefix}:{decoder}:ts:minute:${at}`
    for (const planted of ['0x10', '1e5', '1.0', '  7', '-3', '99999999999999999999']) {
      await rk.connection.send(['SET', key, planted], { key })
      expect(await errorCode(series.range({ from: at, to: at, granularity: 'minute' })), planted).toBe('E_DECODE')
      expect(await errorCode(series.incr(1, at)), planted).toBe('E_DECODE')
      expect(await rk.connection.send(['GET', key], { key }), planted).toBe(planted)
    }
    for (const name of ['', 'a:b', '{x}', 'n'.repeat(201), '\uD800', 5 as unknown as string]) {
      expect(await errorCode(() => rk.timeseries(name)), String(name).slice(0, 10)).toBe('E_INVALID_KEY')
      expect(await errorCode(() => rk.slidingWindow(name, { windowMs: 1000 })), String(name).slice(0, 10)).toBe('E_INVALID_KEY')
      expect(await errorCode(() => rk.unique(name)), String(name).slice(0, 10)).toBe('E_INVALID_KEY')
    }
  })

  it('increments of one tick share one script call; each caller gets the counts after its own, in call order', async () => {
    const series = rk.timeseries('batched', { granularities: ['minute', 'hour'] })
    const at = t('2030-05-19T10:00:30Z')
    await series.incr(10, at)
    const { result: results, sends: calls } = await countSends(rk, () =>
      Promise.all([series.incr(1, at), series.incr(0, at), series.incr(5, at), series.incr(2, at + 1000)]),
    )
    expect(calls).toBe(1)
    expect(results).toEqual([
      { minute: 11, hour: 11 },
      { minute: 11, hour: 11 },
      { minute: 16, hour: 16 },
      { minute: 18, hour: 18 },
    ])
    // A batch that would pass 2^53-1 is sent again one by one: only the increment that does not fit fails.
    const big = rk.timeseries('batched-big', { granularities: ['minute'] })
    await big.incr(Number.MAX_SAFE_INTEGER - 10, at)
    const settled = await Promise.allSettled([big.incr(4, at), big.incr(20, at), big.incr(6, at)])
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value.minute : (r.reason as { code: string }).code))).toEqual([
      Number.MAX_SAFE_INTEGER - 6,
      'E_INVALID_ARGUMENT',
      Number.MAX_SAFE_INTEGER,
    ])
  })
})
