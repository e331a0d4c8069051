import { describe, expect, it } from 'vitest'
import {
  bucketStart,
  type CalendarUnit,
  calendarBucket,
  isoDate,
  localDate,
  nextBucketStart,
  wallClock,
  zoneOffset,
} from '../../src/core/time-zone.js'

const t = (iso: string) => Date.parse(iso)

describe('time zones (src/core/time-zone.ts: stats buckets, leaderboard periods, cron)', () => {
  it('UTC: plain arithmetic', () => {
    expect(bucketStart(t('2030-05-17T13:45:12.345Z'), 'minute', 'UTC')).toBe(t('2030-05-17T13:45:00Z'))
    expect(bucketStart(t('2030-05-17T13:45:12Z'), 'hour', 'UTC')).toBe(t('2030-05-17T13:00:00Z'))
    expect(bucketStart(t('2030-05-17T13:45:12Z'), 'day', 'UTC')).toBe(t('2030-05-17T00:00:00Z'))
    expect(bucketStart(t('2030-05-17T13:45:12Z'), 'month', 'UTC')).toBe(t('2030-05-01T00:00:00Z'))
    expect(bucketStart(t('2030-05-17T13:45:12Z'), 'week', 'UTC')).toBe(t('2030-05-13T00:00:00Z')) // Monday
    expect(nextBucketStart(t('2030-12-01T00:00:00Z'), 'month', 'UTC')).toBe(t('2031-01-01T00:00:00Z'))
  })

  it('days and months start at local midnight, whatever length DST gives the day', () => {
    const tz = 'Europe/Paris'
    // 2030-03-31: clocks jump from 02:00 to 03:00, the day lasts 23 hours.
    const start = bucketStart(t('2030-03-31T12:00:00Z'), 'day', tz)
    expect(start).toBe(t('2030-03-30T23:00:00Z'))
    expect(nextBucketStart(start, 'day', tz)).toBe(t('2030-03-31T22:00:00Z'))
    expect(localDate(start, tz)).toBe('2030-03-31')
    // 2030-10-27: 25 hours.
    const autumn = bucketStart(t('2030-10-27T12:00:00Z'), 'day', tz)
    expect(nextBucketStart(autumn, 'day', tz) - autumn).toBe(25 * 3_600_000)
    expect(bucketStart(t('2030-03-31T22:30:00Z'), 'month', tz)).toBe(t('2030-03-31T22:00:00Z')) // 00:30 on April 1st in Paris
    expect(zoneOffset(t('2030-07-01T00:00:00Z'), tz)).toBe(2 * 3_600_000)
  })

  it('hours follow half-hour zones', () => {
    expect(bucketStart(t('2030-05-17T13:45:00Z'), 'hour', 'Asia/Kolkata')).toBe(t('2030-05-17T13:30:00Z'))
    expect(bucketStart(t('2030-05-17T13:15:00Z'), 'hour', 'Asia/Kolkata')).toBe(t('2030-05-17T12:30:00Z'))
    expect(nextBucketStart(t('2030-05-17T13:30:00Z'), 'hour', 'Asia/Kolkata')).toBe(t('2030-05-17T14:30:00Z'))
  })

  it('every bucket holds the instants it starts, and the next starts where it ends', () => {
    for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'])
      for (const g of ['minute', 'hour', 'day', 'week', 'month'] as const) {
        let start = bucketStart(t('2030-01-01T00:00:00Z'), g, tz)
        for (let i = 0; i < 40; i++) {
          const next = nextBucketStart(start, g, tz)
          expect(next).toBeGreaterThan(start)
          expect(bucketStart(next - 1, g, tz)).toBe(start)
          expect(bucketStart(next, g, tz)).toBe(next)
          start = next
        }
      }
  })

  const H = 3_600_000
  const day = (tz: string, iso: string) => calendarBucket(t(iso), 'day', tz)

  it('Europe/Berlin: 23- and 25-hour days, the skipped hour is no bucket, the next day starts at local midnight', () => {
    const spring = day('Europe/Berlin', '2026-03-29T12:00:00Z')
    expect([spring.start, spring.end]).toEqual([t('2026-03-28T23:00:00Z'), t('2026-03-29T22:00:00Z')])
    expect(isoDate(spring.wallStart)).toBe('2026-03-29')
    const autumn = day('Europe/Berlin', '2026-10-25T12:00:00Z')
    expect([autumn.start, autumn.end]).toEqual([t('2026-10-24T22:00:00Z'), t('2026-10-25T23:00:00Z')])
    // 01:00Z is 03:00 CEST: the hour bucket before it (00:00Z-01:00Z) is 01:00 CET; 02:00 local never happens.
    expect(calendarBucket(t('2026-03-29T00:30:00Z'), 'hour', 'Europe/Berlin').end).toBe(t('2026-03-29T01:00:00Z'))
    expect(isoDate(calendarBucket(t('2026-03-29T01:30:00Z'), 'hour', 'Europe/Berlin').wallStart)).toBe('2026-03-29')
    expect(calendarBucket(t('2026-03-29T01:30:00Z'), 'hour', 'Europe/Berlin').wallStart).toBe(t('2026-03-29T03:00:00Z'))
    // Midnight in Berlin is the day boundary in winter and in summer.
    expect(bucketStart(t('2026-07-01T21:59:59.999Z'), 'day', 'Europe/Berlin')).toBe(t('2026-06-30T22:00:00Z'))
    expect(bucketStart(t('2026-07-01T22:00:00Z'), 'day', 'Europe/Berlin')).toBe(t('2026-07-01T22:00:00Z'))
    expect(bucketStart(t('2026-10-31T23:30:00Z'), 'month', 'Europe/Berlin')).toBe(t('2026-10-31T23:00:00Z'))
  })

  it('America/New_York: the repeated 01:00 hour is two buckets, one per real hour; the day holding it lasts 25 h', () => {
    const first = calendarBucket(t('2026-11-01T05:30:00Z'), 'hour', 'America/New_York')
    const second = calendarBucket(t('2026-11-01T06:30:00Z'), 'hour', 'America/New_York')
    expect([first.start, first.end, second.start, second.end]).toEqual([
      t('2026-11-01T05:00:00Z'),
      t('2026-11-01T06:00:00Z'),
      t('2026-11-01T06:00:00Z'),
      t('2026-11-01T07:00:00Z'),
    ])
    expect(first.wallStart).toBe(second.wallStart)
    const fall = day('America/New_York', '2026-11-01T12:00:00Z')
    expect(fall.end - fall.start).toBe(25 * H)
    const spring = day('America/New_York', '2026-03-08T12:00:00Z')
    expect([spring.start, spring.end - spring.start]).toEqual([t('2026-03-08T05:00:00Z'), 23 * H])
    // One millisecond before local midnight is the previous day, on both sides of DST.
    expect(localDate(t('2026-03-09T03:59:59.999Z'), 'America/New_York')).toBe('2026-03-08')
    expect(bucketStart(t('2026-03-09T04:00:00Z'), 'day', 'America/New_York')).toBe(t('2026-03-09T04:00:00Z'))
  })

  it('Australia/Lord_Howe (half-hour DST): the hour around the change is cut at it, days last 23.5 and 24.5 h', () => {
    // 2026-10-04 02:00 (+10:30) becomes 02:30 (+11) at 15:30Z on the 3rd.
    const before = calendarBucket(t('2026-10-03T15:15:00Z'), 'hour', 'Australia/Lord_Howe')
    const after = calendarBucket(t('2026-10-03T15:45:00Z'), 'hour', 'Australia/Lord_Howe')
    expect([before.start, before.end]).toEqual([t('2026-10-03T14:30:00Z'), t('2026-10-03T15:30:00Z')])
    expect([after.start, after.end]).toEqual([t('2026-10-03T15:30:00Z'), t('2026-10-03T16:00:00Z')])
    expect(bucketStart(after.start, 'hour', 'Australia/Lord_Howe')).toBe(after.start) // idempotent (review finding 8)
    const spring = day('Australia/Lord_Howe', '2026-10-04T03:00:00Z')
    expect(spring.end - spring.start).toBe(23.5 * H)
    const autumn = day('Australia/Lord_Howe', '2026-04-05T03:00:00Z')
    expect(autumn.end - autumn.start).toBe(24.5 * H)
    expect(zoneOffset(t('2026-07-01T00:00:00Z'), 'Australia/Lord_Howe')).toBe(10.5 * H)
  })

  it('DST at local midnight (Havana, Santiago, Azores): the day starts when the gap ends, on its own date (review finding 8)', () => {
    for (const [tz, iso, start, length] of [
      ['America/Havana', '2027-03-14T12:00:00Z', '2027-03-14T05:00:00Z', 23],
      ['America/Santiago', '2027-09-05T12:00:00Z', '2027-09-05T04:00:00Z', 23],
      ['Atlantic/Azores', '2026-03-29T12:00:00Z', '2026-03-29T01:00:00Z', 23],
    ] as const) {
      const b = day(tz, iso)
      expect(b.start, tz).toBe(t(start))
      expect(b.end - b.start, tz).toBe(length * H)
      expect(isoDate(b.wallStart), tz).toBe(iso.slice(0, 10))
      expect(localDate(b.start, tz), tz).toBe(iso.slice(0, 10))
      // The day before ends where this one starts: two dates never share a bucket.
      expect(day(tz, new Date(b.start - 1).toISOString()).end, tz).toBe(b.start)
      expect(isoDate(day(tz, new Date(b.start - 1).toISOString()).wallStart), tz).not.toBe(iso.slice(0, 10))
    }
  })

  it('historic oddities: two midnights (Magadan 2014), a 27-hour day (Casey 2010), DST ending at midnight (Sao Paulo 2018)', () => {
    // Asia/Magadan 2014-10-26 02:00 (+12) went back to 00:00 (+10): the day starts at the first midnight.
    const magadan = day('Asia/Magadan', '2014-10-25T14:30:00Z') // the second 00:30
    expect([magadan.start, magadan.end - magadan.start]).toEqual([t('2014-10-25T12:00:00Z'), 26 * H])
    expect(bucketStart(t('2014-10-25T14:30:00Z'), 'day', 'Asia/Magadan')).toBeLessThanOrEqual(t('2014-10-25T14:30:00Z'))
    // Antarctica/Casey 2010-03-05: clocks showed 00:00 for an hour, then went back to 22:00 on the 4th (+11 -> +8).
    const casey = day('Antarctica/Casey', '2010-03-04T14:30:00Z') // shows 22:30 on the 4th again
    expect(isoDate(casey.wallStart)).toBe('2010-03-05')
    expect([casey.start, casey.end - casey.start]).toEqual([t('2010-03-04T13:00:00Z'), 27 * H])
    expect(day('Antarctica/Casey', '2010-03-04T12:00:00Z').end).toBe(casey.start)
    // America/Sao_Paulo 2018-02-18 00:00 (-2) went back to 23:00 on the 17th (-3): a 25-hour 17th.
    const sp = day('America/Sao_Paulo', '2018-02-17T12:00:00Z')
    expect([sp.start, sp.end - sp.start]).toEqual([t('2018-02-17T02:00:00Z'), 25 * H])
  })

  it('every bucket holds its instants, is named by the local date it starts on, and the next starts where it ends (DST years)', () => {
    const zones: Array<[string, string, string]> = [
      ['Europe/Berlin', '2026-03-20', '2026-11-05'],
      ['America/New_York', '2026-03-01', '2026-11-10'],
      ['Australia/Lord_Howe', '2026-03-30', '2026-10-10'],
      ['America/Havana', '2027-03-10', '2027-03-20'],
      ['America/Santiago', '2027-04-01', '2027-09-10'],
      ['Atlantic/Azores', '2026-03-25', '2026-11-01'],
      ['Asia/Magadan', '2014-10-20', '2014-11-01'],
      ['Antarctica/Casey', '2009-10-10', '2010-03-10'],
      ['America/Sao_Paulo', '2018-02-10', '2018-11-10'],
      ['Asia/Kolkata', '2026-01-01', '2026-02-01'],
    ]
    for (const [tz, from, to] of zones)
      for (const unit of ['hour', 'day', 'week', 'month'] as CalendarUnit[]) {
        let b = calendarBucket(t(`${from}T00:00:00Z`), unit, tz)
        for (let guard = 0; b.start < t(`${to}T00:00:00Z`) && guard < 10_000; guard++) {
          const where = `${tz} ${unit} ${new Date(b.start).toISOString()}`
          expect(b.end, where).toBeGreaterThan(b.start)
          expect(calendarBucket(b.start, unit, tz).start, where).toBe(b.start)
          expect(calendarBucket(b.end - 1, unit, tz).start, where).toBe(b.start)
          expect(calendarBucket(Math.floor((b.start + b.end) / 2), unit, tz).start, where).toBe(b.start)
          if (unit !== 'hour') {
            expect(localDate(b.start, tz), where).toBe(isoDate(b.wallStart))
            expect(wallClock(b.end - 1000, tz), where).toBeLessThan(wallClock(b.end, tz) + 30 * H) // sane
          }
          const next = calendarBucket(b.end, unit, tz)
          expect(next.start, where).toBe(b.end)
          expect(next.wallStart, where).toBeGreaterThan(unit === 'hour' ? b.wallStart - 4 * H : b.wallStart) // clocks set back repeat hours
          b = next
        }
      }
  }, 60_000)
})
