import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'
import { isTimeZone, nextOffsetChange, zoneOffset } from '../core/time-zone.js'

/**
 * Cron expressions: 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first),
 * `*`, `?`, lists `a,b`, ranges `a-b`, steps `*\/n` `a-b/n` `a/n`, month and day names (JAN, MON),
 * day-of-week 0-7 (0 and 7 are Sunday), and @yearly @annually @monthly @weekly @daily @midnight
 * @hourly. As in Vixie cron, when both day fields are restricted a day matching either one matches.
 * Evaluated in an IANA time zone (default UTC), with Vixie cron's DST rules. A job is a wildcard
 * job when its second, minute or hour field starts with `*` (`*`, `*\/5`), else a fixed-time job.
 * - clocks set back (the repeated wall times of a fall-back): wildcard jobs run in both passes
 *   (real time goes on: `*\/5 * * * *` runs every 5 minutes), fixed-time jobs once (the first pass).
 * - clocks set forward (the skipped wall times of a spring-forward): wildcard jobs skip them (they
 *   do not exist), a fixed-time job due in them runs once, at the instant the clocks jump.
 * `L`, `W` and `#` are refused (E_INVALID_ARGUMENT with `details.unsupported`).
 */
export interface CronExpression {
  readonly source: string
  readonly timeZone: string
  /** The first matching time strictly after `after` (epoch ms), or undefined if none within 8 years. */
  next(after: number): number | undefined
}

interface FieldSpec {
  name: string
  min: number
  max: number
  names?: Record<string, number>
}

const MONTHS: Record<string, number> = { JAN: 1, FEB: 2, MAR: 3, APR: 4, MAY: 5, JUN: 6, JUL: 7, AUG: 8, SEP: 9, OCT: 10, NOV: 11, DEC: 12 }
const DAYS: Record<string, number> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 }
const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 }
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 }
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 }
const DAY_OF_MONTH: FieldSpec = { name: 'day of month', min: 1, max: 31 }
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTHS }
const DAY_OF_WEEK: FieldSpec = { name: 'day of week', min: 0, max: 7, names: DAYS }

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

function invalid(source: string, reason: string): RedkitError {
  return new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `invalid cron expression '${source}': ${reason}`, { details: { cron: source } })
}

function parseValue(text: string, spec: FieldSpec, source: string): number {
  const named = spec.names?.[text.toUpperCase()]
  if (named !== undefined) return named
  if (!/^\d+$/.test(text)) throw invalid(source, `'${text}' is not a valid ${spec.name}`)
  const value = Number(text)
  if (value < spec.min || value > spec.max) throw invalid(source, `${spec.name} ${value} is outside ${spec.min}-${spec.max}`)
  return value
}

/** Parses one field into the set of values it allows; `star` tells whether it was unrestricted. */
export function parseField(text: string, spec: FieldSpec, source: string): { values: Set<number>; star: boolean } {
  const values = new Set<number>()
  let star = false
  for (const part of text.split(',')) {
    if (part === '') throw invalid(source, `empty list item in the ${spec.name} field`)
    const [range, stepText, extra] = part.split('/')
    if (extra !== undefined || range === undefined) throw invalid(source, `'${part}' has more than one '/'`)
    let step = 1
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw invalid(source, `step '${stepText}' must be a positive integer`)
      step = Number(stepText)
    }
    let from: number
    let to: number
    if (range === '*' || range === '?') {
      from = spec.min
      to = spec.max
      if (stepText === undefined) star = true
    } else if (range.includes('-')) {
      const [a, b, more] = range.split('-')
      if (more !== undefined || a === undefined || b === undefined) throw invalid(source, `'${range}' is not a valid range`)
      from = parseValue(a, spec, source)
      to = parseValue(b, spec, source)
      if (from > to) throw invalid(source, `range ${range} runs backwards`)
    } else {
      from = parseValue(range, spec, source)
      to = stepText === undefined ? from : spec.max
    }
    for (let v = from; v <= to; v += step) values.add(v)
  }
  return { values, star }
}

/** Vixie cron's DST window: offset changes are at most this large (real ones: 30 min to 2 h). */
const MAX_SHIFT = 3 * 3_600_000

export function parseCron(expression: string, timeZone = 'UTC'): CronExpression {
  if (typeof expression !== 'string') throw invalid(String(expression), 'it must be a string')
  const source = expression.trim()
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `unknown time zone ${describeValue(timeZone)}`)
  const text = MACROS[source.toLowerCase()] ?? source
  const fields = text.split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) throw invalid(source, `expected 5 or 6 fields, got ${fields.length}`)
  if (fields.length === 5) fields.unshift('0')
  const [s, mi, h, dom, mo, dow] = fields as [string, string, string, string, string, string]
  if (/[LW]/i.test(dom) || /#|(^|[,\d])L/i.test(dow))
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `invalid cron expression '${source}': 'L', 'W' and '#' (last day, nearest weekday, nth weekday) are not supported; list the days instead`,
      { details: { cron: source, unsupported: true } },
    )
  // Vixie cron's wildcard jobs: a second, minute or hour field that starts with '*' (also '*/n').
  const wildcard = [s, mi, h].some((field) => field.startsWith('*'))
  const seconds = parseField(s, SECOND, source).values
  const minutes = parseField(mi, MINUTE, source).values
  const hours = parseField(h, HOUR, source).values
  const daysOfMonth = parseField(dom, DAY_OF_MONTH, source)
  const months = parseField(mo, MONTH, source).values
  const daysOfWeek = parseField(dow, DAY_OF_WEEK, source)
  if (daysOfWeek.values.has(7)) daysOfWeek.values.add(0)

  const dayMatches = (date: Date): boolean => {
    const inMonth = daysOfMonth.values.has(date.getUTCDate())
    const inWeek = daysOfWeek.values.has(date.getUTCDay())
    if (daysOfMonth.star) return inWeek
    if (daysOfWeek.star) return inMonth
    return inMonth || inWeek
  }

  /** The first wall time at or after `from` (a UTC epoch standing for a local time) that matches, or undefined past `limit`. */
  const firstWall = (from: number, limit: number): number | undefined => {
    let d = new Date(from)
    for (let guard = 0; guard < 100_000 && d.getTime() <= limit; guard++) {
      if (!months.has(d.getUTCMonth() + 1)) {
        d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))
        continue
      }
      if (!dayMatches(d)) {
        d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1))
        continue
      }
      if (!hours.has(d.getUTCHours())) {
        d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1))
        continue
      }
      if (!minutes.has(d.getUTCMinutes())) {
        d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes() + 1))
        continue
      }
      if (!seconds.has(d.getUTCSeconds())) {
        d = new Date(d.getTime() + 1000)
        continue
      }
      return d.getTime()
    }
    return undefined
  }

  /** Whether the wall time shown at `instant` (offset `offset`) was shown before: the second pass of a fall-back. */
  const repeated = (instant: number, offset: number): boolean => {
    const earlier = zoneOffset(instant - MAX_SHIFT, timeZone)
    if (earlier <= offset) return false
    const first = instant - (earlier - offset)
    return zoneOffset(first, timeZone) === earlier
  }

  const next = (after: number): number | undefined => {
    const limit = after + 8 * 366 * 86_400_000
    const ceilSecond = (t: number) => Math.ceil(t / 1000) * 1000
    let start = after + 1 // the first instant that may fire
    if (timeZone === 'UTC') return firstWall(ceilSecond(start), limit)
    for (let guard = 0; guard < 10_000 && start <= limit; guard++) {
      // In the span of constant offset that holds `start`, wall time is instant + offset.
      const offset = zoneOffset(start, timeZone)
      const wall = firstWall(ceilSecond(start + offset), limit + MAX_SHIFT)
      if (wall === undefined) return undefined
      const instant = wall - offset
      // An offset change before that instant ends the span (a change within MAX_SHIFT after
      // `start` may also repeat wall times before the candidate).
      const change =
        zoneOffset(instant, timeZone) !== offset
          ? nextOffsetChange(start, instant, timeZone)
          : nextOffsetChange(start, Math.min(instant, start + MAX_SHIFT), timeZone)
      if (change === undefined) {
        if (wildcard || !repeated(instant, offset)) return instant > limit ? undefined : instant
        // A fixed-time job ran at this wall time in the first pass: skip the second.
        start = instant + 1
        continue
      }
      const offsetAfter = zoneOffset(change, timeZone)
      // Spring forward: a fixed-time job due in the skipped wall times runs once, when clocks jump.
      if (offsetAfter > offset && !wildcard) {
        const skipped = firstWall(ceilSecond(change + offset), change + offsetAfter - 1)
        if (skipped !== undefined && skipped < change + offsetAfter) return change
      }
      start = change
    }
    return undefined
  }

  if (next(Date.UTC(2000, 0, 1)) === undefined && next(Date.now()) === undefined) throw invalid(source, 'it never matches')
  return { source, timeZone, next }
}
