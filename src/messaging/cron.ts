import { ErrorCodes, RedkitError } from '../core/errors.js'
import { isTimeZone, wallClock as wallOf } from '../core/time-zone.js'

/**
 * Cron expressions: 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first),
 * `*`, `?`, lists `a,b`, ranges `a-b`, steps `*\/n` `a-b/n` `a/n`, month and day names (JAN, MON),
 * day-of-week 0-7 (0 and 7 are Sunday), and @yearly @annually @monthly @weekly @daily @midnight
 * @hourly. As in Vixie cron, when both day fields are restricted a day matching either one matches.
 * Evaluated in an IANA time zone (default UTC): a wall time skipped by a DST change runs at the
 * same wall offset after the gap, a repeated one runs once (its first occurrence).
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

/** The instant at which the clocks of `timeZone` show `wall`; see the DST rules above. */
function instantOf(wall: number, timeZone: string): number {
  if (timeZone === 'UTC') return wall
  const day = 86_400_000
  const before = wall - (wallOf(wall - day, timeZone) - (wall - day))
  const after = wall - (wallOf(wall + day, timeZone) - (wall + day))
  const valid = [before, after].filter((t) => wallOf(t, timeZone) === wall)
  return valid.length > 0 ? Math.min(...valid) : Math.max(before, after)
}

export function parseCron(expression: string, timeZone = 'UTC'): CronExpression {
  if (typeof expression !== 'string') throw invalid(String(expression), 'it must be a string')
  const source = expression.trim()
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `unknown time zone '${String(timeZone)}'`)
  const text = MACROS[source.toLowerCase()] ?? source
  const fields = text.split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) throw invalid(source, `expected 5 or 6 fields, got ${fields.length}`)
  if (fields.length === 5) fields.unshift('0')
  const [s, mi, h, dom, mo, dow] = fields as [string, string, string, string, string, string]
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

  const next = (after: number): number | undefined => {
    let instantFloor = after
    const limit = after + 8 * 366 * 86_400_000
    // Walk wall-clock time field by field; `d` carries the wall time as a UTC date.
    let d = new Date(wallOf(after, timeZone) + 1000)
    for (let guard = 0; guard < 100_000 && d.getTime() <= limit + 86_400_000; guard++) {
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
      const instant = instantOf(d.getTime(), timeZone)
      if (instant > instantFloor) return instant
      // A repeated wall time (DST fall-back) already passed: move on.
      instantFloor = Math.max(instantFloor, instant)
      d = new Date(d.getTime() + 1000)
    }
    return undefined
  }

  if (next(Date.UTC(2000, 0, 1)) === undefined && next(Date.now()) === undefined) throw invalid(source, 'it never matches')
  return { source, timeZone, next }
}
