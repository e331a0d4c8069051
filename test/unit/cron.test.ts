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
    // 2026-03-08 02:30 does not exist in New York: it runs once, when clocks jump (03:00 EDT, 07:00Z).
    expect(iso(ny.next(utc('2026-03-08T00:00:00')))).toBe('2026-03-08T07:00:00Z')
    expect(iso(ny.next(utc('2026-03-08T07:00:00')))).toBe('2026-03-09T06:30:00Z')
    const nyFall = parseCron('30 1 * * *', 'America/New_York')
    // 2026-11-01 01:30 happens twice: it runs once, at the first (EDT, 05:30Z).
    expect(iso(nyFall.next(utc('2026-11-01T00:00:00')))).toBe('2026-11-01T05:30:00Z')
    expect(iso(nyFall.next(utc('2026-11-01T05:30:00')))).toBe('2026-11-02T06:30:00Z')
    const berlin = parseCron('30 2 * * *', 'Europe/Berlin')
    expect(iso(berlin.next(utc('2026-03-28T12:00:00')))).toBe('2026-03-29T01:00:00Z')
    expect(iso(berlin.next(utc('2026-10-24T12:00:00')))).toBe('2026-10-25T00:30:00Z')
    expect(iso(parseCron('0 9 * * *', 'Asia/Tokyo').next(utc('2026-06-01T00:00:00')))).toBe('2026-06-02T00:00:00Z')
  })

  /** Every run in (from, to]. */
  const runs = (expression: string, timeZone: string, from: string, to: string): string[] => {
    const cron = parseCron(expression, timeZone)
    const out: string[] = []
    for (let t = cron.next(utc(from)); t !== undefined && t <= utc(to); t = cron.next(t)) out.push(iso(t) as string)
    return out
  }
  const gaps = (list: string[]) => list.slice(1).map((t, i) => (Date.parse(t) - Date.parse(list[i] as string)) / 60_000)

  it('runs wildcard jobs in both passes of a fall-back hour and fixed-time jobs once (Vixie cron), in New York, Berlin and Lord Howe', () => {
    // New York 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z. Berlin 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z.
    const ny = runs('*/5 * * * *', 'America/New_York', '2026-11-01T04:00:00', '2026-11-01T08:00:00')
    expect(ny).toHaveLength(48) // every 5 real minutes, the repeated hour included (12 more than a wall-clock walk)
    expect(new Set(gaps(ny))).toEqual(new Set([5]))
    const berlin = runs('*/5 * * * *', 'Europe/Berlin', '2026-10-25T00:00:00', '2026-10-25T03:00:00')
    expect(berlin).toHaveLength(36)
    expect(new Set(gaps(berlin))).toEqual(new Set([5]))
    expect(runs('0 * * * *', 'America/New_York', '2026-11-01T04:00:00', '2026-11-01T08:00:00')).toEqual([
      '2026-11-01T05:00:00Z',
      '2026-11-01T06:00:00Z', // 01:00 EST, the second 01:00
      '2026-11-01T07:00:00Z',
      '2026-11-01T08:00:00Z',
    ])
    // A wildcard minute in a fixed hour is a wildcard job (Vixie's MIN_STAR): both passes of 01:xx.
    expect(runs('*/15 1 * * *', 'America/New_York', '2026-11-01T00:00:00', '2026-11-01T12:00:00')).toEqual([
      '2026-11-01T05:00:00Z',
      '2026-11-01T05:15:00Z',
      '2026-11-01T05:30:00Z',
      '2026-11-01T05:45:00Z',
      '2026-11-01T06:00:00Z',
      '2026-11-01T06:15:00Z',
      '2026-11-01T06:30:00Z',
      '2026-11-01T06:45:00Z',
    ])
    // Fixed-time jobs: once, in the first pass.
    expect(runs('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00', '2026-11-02T12:00:00')).toEqual([
      '2026-11-01T05:30:00Z',
      '2026-11-02T06:30:00Z',
    ])
    expect(runs('0,30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00', '2026-10-26T12:00:00')).toEqual([
      '2026-10-25T00:00:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-26T01:00:00Z',
      '2026-10-26T01:30:00Z',
    ])
    // Started inside the second pass, a fixed-time job waits for the next day.
    expect(iso(parseCron('45 1 * * *', 'America/New_York').next(utc('2026-11-01T06:10:00')))).toBe('2026-11-02T06:45:00Z')
    // Lord Howe 2026-04-05: 02:00 (+11) -> 01:30 (+10:30) at 15:00Z: half an hour repeated.
    const howe = runs('*/15 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:00:00', '2026-04-04T16:00:00')
    expect(howe).toHaveLength(8)
    expect(new Set(gaps(howe))).toEqual(new Set([15]))
    expect(runs('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T00:00:00', '2026-04-05T23:00:00')).toEqual([
      '2026-04-04T14:45:00Z',
      '2026-04-05T15:15:00Z',
    ])
  })

  it('runs a fixed-time job due in a spring-forward gap once, when clocks jump; wildcard jobs skip the gap (Vixie cron)', () => {
    // New York 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z. Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z.
    expect(runs('0,30 2 * * *', 'America/New_York', '2026-03-07T12:00:00', '2026-03-09T12:00:00')).toEqual([
      '2026-03-08T07:00:00Z', // 02:00 and 02:30 never happen: one run at 03:00 EDT
      '2026-03-09T06:00:00Z',
      '2026-03-09T06:30:00Z',
    ])
    expect(runs('15 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00', '2026-03-30T12:00:00')).toEqual([
      '2026-03-29T01:00:00Z',
      '2026-03-30T00:15:00Z',
    ])
    const ny = runs('*/5 * * * *', 'America/New_York', '2026-03-08T06:00:00', '2026-03-08T08:00:00')
    expect(ny).toHaveLength(24)
    expect(new Set(gaps(ny))).toEqual(new Set([5]))
    // A wildcard job whose times fall in the gap does not run that day.
    expect(runs('*/30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00', '2026-03-30T12:00:00')).toEqual([
      '2026-03-30T00:00:00Z',
      '2026-03-30T00:30:00Z',
    ])
    // Lord Howe 2026-10-04: 02:00 (+10:30) -> 02:30 (+11) at 15:30Z (Oct 3).
    expect(runs('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T00:00:00', '2026-10-04T23:00:00')).toEqual([
      '2026-10-03T15:30:00Z',
      '2026-10-04T15:15:00Z',
    ])
    const howe = runs('*/15 * * * *', 'Australia/Lord_Howe', '2026-10-03T15:00:00', '2026-10-03T16:00:00')
    expect(howe).toEqual(['2026-10-03T15:15:00Z', '2026-10-03T15:30:00Z', '2026-10-03T15:45:00Z', '2026-10-03T16:00:00Z'])
  })

  it("refuses 'L', 'W' and '#' with E_INVALID_ARGUMENT (not supported)", () => {
    for (const bad of ['0 0 L * *', '0 0 15W * *', '0 0 LW * *', '0 0 * * 5L', '0 0 * * FRI#3', '0 0 * * 5#3', '0 0 * * L']) {
      const error = (() => {
        try {
          parseCron(bad)
        } catch (e) {
          return e as { code?: string; details?: { unsupported?: boolean } }
        }
        return undefined
      })()
      expect(error?.code, bad).toBe('E_INVALID_ARGUMENT')
      expect(error?.details?.unsupported, bad).toBe(true)
    }
    // Names that contain the letters still parse.
    expect(iso(parseCron('0 0 * JUL WED').next(utc('2026-07-01T00:00:00')))).toBe('2026-07-08T00:00:00Z')
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
