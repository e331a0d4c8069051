import { describe, expect, it } from 'vitest'
import { parseCron } from '../../src/messaging/cron.js'
import { nextOccurrence, occurrenceDue, occurrenceId } from '../../src/messaging/repeat.js'
import { thrownCode } from '../support/expect.js'

const utc = (text: string) => Date.parse(`${text}Z`)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z'))

describe('parseCron', () => {
  it('finds the next match in UTC for the usual shapes', () => {
    const from = utc('2026-03-10T10:17:30')
    expect(iso(parseCron('*/15 * * * *').next(from))).toBe('2026-03-10T10:30:00Z')
    expect(iso(parseCron('0 9 * * MON-FRI').next(from))).toBe('2026-03-11T09:00:00Z')
    expect(iso(parseCron('0 0 1 JAN *').next(from))).toBe('2027-01-01T00:00:00Z')
    expect(iso(parseCron('30 4 1,15 * *').next(from))).toBe('2026-03-15T04:30:00Z')
    expect(iso(parseCron('@hourly').next(from))).toBe('2026-03-10T11:00:00Z')
    expect(iso(parseCron('@daily').next(from))).toBe('2026-03-11T00:00:00Z')
    expect(iso(parseCron('@weekly').next(from))).toBe('2026-03-15T00:00:00Z')
    expect(iso(parseCron('*/20 * * * * *').next(from))).toBe('2026-03-10T10:17:40Z')
    expect(iso(parseCron('0 0 29 2 *').next(from))).toBe('2028-02-29T00:00:00Z')
    expect(iso(parseCron('5-10/2 * * * *').next(from))).toBe('2026-03-10T11:05:00Z')
    expect(iso(parseCron('0 12 * * 7').next(from))).toBe('2026-03-15T12:00:00Z')
  })

  it('is strictly after the given time', () => {
    const at = utc('2026-03-10T10:30:00')
    expect(iso(parseCron('*/15 * * * *').next(at))).toBe('2026-03-10T10:45:00Z')
    expect(iso(parseCron('*/15 * * * *').next(at - 1))).toBe('2026-03-10T10:30:00Z')
  })

  it('matches either day field when both are restricted (Vixie cron)', () => {
    // The 13th, or any Friday.
    const cron = parseCron('0 0 13 * FRI')
    expect(iso(cron.next(utc('2026-03-01T00:00:00')))).toBe('2026-03-06T00:00:00Z')
    expect(iso(cron.next(utc('2026-03-12T00:00:00')))).toBe('2026-03-13T00:00:00Z')
  })

  it('follows a time zone through DST changes', () => {
    const ny = parseCron('30 2 * * *', 'America/New_York')
    // 2026-03-08 02:30 does not exist in New York: it runs at 03:30 EDT (07:30Z), after the gap.
    expect(iso(ny.next(utc('2026-03-08T00:00:00')))).toBe('2026-03-08T07:30:00Z')
    expect(iso(ny.next(utc('2026-03-08T07:30:00')))).toBe('2026-03-09T06:30:00Z')
    const nyFall = parseCron('30 1 * * *', 'America/New_York')
    // 2026-11-01 01:30 happens twice: it runs once, at the first (EDT, 05:30Z).
    expect(iso(nyFall.next(utc('2026-11-01T00:00:00')))).toBe('2026-11-01T05:30:00Z')
    expect(iso(nyFall.next(utc('2026-11-01T05:30:00')))).toBe('2026-11-02T06:30:00Z')
    const berlin = parseCron('30 2 * * *', 'Europe/Berlin')
    expect(iso(berlin.next(utc('2026-03-28T12:00:00')))).toBe('2026-03-29T01:30:00Z')
    expect(iso(berlin.next(utc('2026-10-24T12:00:00')))).toBe('2026-10-25T00:30:00Z')
    expect(iso(parseCron('0 9 * * *', 'Asia/Tokyo').next(utc('2026-06-01T00:00:00')))).toBe('2026-06-02T00:00:00Z')
  })

  it('rejects malformed expressions with E_INVALID_ARGUMENT', () => {
    for (const bad of [
      '',
      '* * * *',
      '60 * * * *',
      '* 24 * * *',
      '* * 0 * *',
      '* * * 13 *',
      '* * * * 8',
      '*/0 * * * *',
      '5-1 * * * *',
      'a * * * *',
      '1,,2 * * * *',
      '0 0 31 2 *',
      '* * * * * * *',
    ]) {
      expect(
        thrownCode(() => parseCron(bad)),
        bad,
      ).toBe('E_INVALID_ARGUMENT')
    }
    expect(thrownCode(() => parseCron('* * * * *', 'Mars/Olympus'))).toBe('E_INVALID_ARGUMENT')
  })
})

describe('repeat schedules', () => {
  it('puts interval occurrences on a fixed grid so every process computes the same ids', () => {
    const every = { s: 'tick', v: 'v1', e: 60_000 }
    expect(nextOccurrence(every, 90_000)).toBe(120_000)
    expect(nextOccurrence(every, 120_000)).toBe(180_000)
    expect(nextOccurrence({ ...every, sa: 1_000 }, 90_000)).toBe(121_000)
    expect(nextOccurrence({ ...every, sa: 500_000 }, 90_000)).toBe(500_000)
    expect(nextOccurrence({ ...every, ea: 150_000 }, 120_000)).toBeUndefined()
    expect(nextOccurrence({ s: 'c', v: 'v', c: '0 * * * *' }, utc('2026-01-01T10:10:00'))).toBe(utc('2026-01-01T11:00:00'))
  })

  it('encodes the due time in the occurrence id', () => {
    const id = occurrenceId('report@daily', 1_700_000_000_000)
    expect(id).toBe('report@daily@1700000000000')
    expect(occurrenceDue(id)).toBe(1_700_000_000_000)
    expect(occurrenceDue('plain')).toBeUndefined()
  })
})
