import type { Granularity } from './types.js'

/**
 * Bucket boundaries in an IANA time zone. Minutes and hours follow the zone's offset at the
 * instant (so a +05:30 zone gets its own hours); days, weeks and months start at local midnight,
 * whatever length DST gives them. UTC takes arithmetic shortcuts.
 */

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** The wall-clock time at `ms` in the zone, as if it were UTC (epoch ms, whole seconds). */
function wallClock(ms: number, timeZone: string): number {
  if (timeZone === 'UTC') return ms - (ms % 1000)
  const parts: Record<string, number> = {}
  for (const part of formatter(timeZone).formatToParts(ms)) if (part.type !== 'literal') parts[part.type] = Number(part.value)
  return Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
}

/** Offset of the zone at `ms` (local minus UTC), in ms. */
export function zoneOffset(ms: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0
  const whole = Math.floor(ms / 1000) * 1000
  return wallClock(whole, timeZone) - whole
}

/** The instant of a wall-clock time in the zone (for times a DST gap skips, the instant just after). */
function fromWall(wall: number, timeZone: string): number {
  if (timeZone === 'UTC') return wall
  const guess = wall - zoneOffset(wall, timeZone)
  return wall - zoneOffset(guess, timeZone)
}

function localMidnight(ms: number, timeZone: string, shiftDays = 0, monthStart = false): number {
  const wall = new Date(wallClock(ms, timeZone))
  const day = monthStart ? 1 : wall.getUTCDate() - shiftDays
  return fromWall(Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), day), timeZone)
}

/** Start (epoch ms) of the bucket holding `ms`. */
export function bucketStart(ms: number, granularity: Granularity | 'week', timeZone: string): number {
  switch (granularity) {
    case 'minute':
    case 'hour': {
      const size = granularity === 'minute' ? MINUTE : HOUR
      const local = ms + zoneOffset(ms, timeZone)
      return ms - (((local % size) + size) % size)
    }
    case 'day':
      return timeZone === 'UTC' ? ms - (ms % DAY) : localMidnight(ms, timeZone)
    case 'week': {
      const weekday = (new Date(wallClock(ms, timeZone)).getUTCDay() + 6) % 7 // Monday = 0
      return localMidnight(ms, timeZone, weekday)
    }
    case 'month':
      return localMidnight(ms, timeZone, 0, true)
  }
}

/** Start of the bucket after the one starting at `start`. */
export function nextBucketStart(start: number, granularity: Granularity | 'week', timeZone: string): number {
  switch (granularity) {
    case 'minute':
      return start + MINUTE
    case 'hour':
      return bucketStart(start + HOUR + MINUTE, 'hour', timeZone)
    // Days last 23 to 25 hours and months 28 to 31 days: these steps always land in the next one.
    case 'day':
      return bucketStart(start + 26 * HOUR, 'day', timeZone)
    case 'week':
      return bucketStart(start + 7 * DAY + 2 * HOUR, 'week', timeZone)
    case 'month':
      return bucketStart(start + 32 * DAY, 'month', timeZone)
  }
}

/** The local date of an instant, `YYYY-MM-DD`. */
export function localDate(ms: number, timeZone: string): string {
  return new Date(wallClock(ms, timeZone)).toISOString().slice(0, 10)
}
