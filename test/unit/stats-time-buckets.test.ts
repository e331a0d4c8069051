import { describe, expect, it } from 'vitest'
import { bucketStart, localDate, nextBucketStart, zoneOffset } from '../../src/stats/time-buckets.js'

const t = (iso: string) => Date.parse(iso)

describe('stats time buckets', () => {
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
})
