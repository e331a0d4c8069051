/**
 * Wall clocks and calendar buckets in IANA time zones, the one copy every module uses (stats
 * buckets and leaderboard periods, cron). Intl gives the wall clock of an instant; everything else
 * is derived from that, so no rule about DST is assumed anywhere:
 * - minutes and hours follow the zone's offset at the instant (a +05:30 zone gets its own hours,
 *   and a repeated hour at a DST fall-back is two buckets, one per real hour). A bucket never
 *   spans an offset change: on a half-hour DST change (Australia/Lord_Howe) the hour around it is
 *   split at the change.
 * - days, weeks (from Monday) and months start at the first instant the zone's clocks show that
 *   date: local midnight, or the end of the gap when DST skips midnight (America/Havana,
 *   America/Santiago, Atlantic/Azores), the first of two midnights when clocks fall back to midnight
 *   (Asia/Magadan 2014), whatever length that gives the day (23, 25 or 27 hours).
 * UTC takes arithmetic shortcuts.
 */

export type CalendarUnit = 'minute' | 'hour' | 'day' | 'week' | 'month'

/** One bucket: `[start, end)` in epoch ms, and the wall-clock time it is labelled with (as if UTC). */
export interface CalendarBucket {
  readonly start: number
  readonly end: number
  /** The local wall time the bucket is named after (its minute, hour, or local midnight), as UTC epoch ms. */
  readonly wallStart: number
}

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
/** Every UTC offset tzdata has ever had is within ±16 h (the largest: Manila's LMT, −15:56). */
const MAX_OFFSET = 16 * HOUR

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

/** Whether Intl knows the zone. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone)
    return true
  } catch {
    return false
  }
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b
}

/**
 * The wall clock of `instant` in `timeZone`, expressed as a UTC epoch, in whole seconds (the
 * milliseconds of the instant are dropped).
 * @throws RangeError for a time zone Intl does not know
 */
export function wallClock(instant: number, timeZone: string): number {
  const whole = instant - mod(instant, 1000)
  if (timeZone === 'UTC') return whole
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(whole)) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  return Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
}

/** The wall clock of an instant to the millisecond (tzdata offsets are whole seconds). */
function wallMs(instant: number, timeZone: string): number {
  return wallClock(instant, timeZone) + mod(instant, 1000)
}

/** The zone's offset at `instant` (local minus UTC), in ms. */
export function zoneOffset(instant: number, timeZone: string): number {
  return wallMs(instant, timeZone) - instant
}

/** The local date of an instant, `YYYY-MM-DD`. */
export function localDate(instant: number, timeZone: string): string {
  return isoDate(wallClock(instant, timeZone))
}

/** `YYYY-MM-DD` of a wall time (a UTC epoch standing for a local time). */
export function isoDate(wall: number): string {
  return new Date(wall).toISOString().slice(0, 10)
}

/** The local midnight of the day, week (Monday) or month holding a wall time. */
function calendarStart(wall: number, unit: 'day' | 'week' | 'month'): number {
  const day = wall - mod(wall, DAY)
  if (unit === 'day') return day
  const date = new Date(day)
  if (unit === 'week') return day - ((date.getUTCDay() + 6) % 7) * DAY
  date.setUTCDate(1)
  return date.getTime()
}

function nextCalendarStart(wallStart: number, unit: 'day' | 'week' | 'month'): number {
  if (unit === 'day') return wallStart + DAY
  if (unit === 'week') return wallStart + 7 * DAY
  const date = new Date(wallStart)
  date.setUTCMonth(date.getUTCMonth() + 1, 1)
  return date.getTime()
}

/**
 * The first instant whose wall clock shows `wall` or later, near `hint`. The common case (no
 * offset change in the 16 h before) costs three wall-clock reads. Next to offset changes the
 * offsets of the ±16 h around are mapped (a read every half hour, each change found by binary
 * search) and the earliest instant of each constant-offset span that shows `wall` is taken: clocks
 * that go back across midnight (Antarctica/Casey 2010) show a date twice, and its bucket starts
 * at the first time.
 */
function firstShowing(wall: number, timeZone: string, hint: number): number {
  const lo = wall - MAX_OFFSET - 1 // shows less than wall, whatever the offset
  const hi = wall + MAX_OFFSET // shows wall or later
  let candidate = wall - zoneOffset(hint, timeZone)
  for (let i = 0; i < 2; i++) {
    const offset = zoneOffset(candidate, timeZone)
    if (candidate + offset === wall && zoneOffset(lo, timeZone) === offset) return candidate
    const next = wall - offset
    if (next === candidate) break
    candidate = next
  }
  let first = hi
  let from = lo
  let offset = zoneOffset(lo, timeZone)
  for (let probe = lo; from < hi; ) {
    probe = Math.min(probe + HOUR / 2, hi)
    const to = zoneOffset(probe, timeZone) === offset ? probe : offsetChange(from, probe, offset, timeZone) - 1
    // The span [from, to] keeps `offset`: its clocks show wall from `wall - offset` on.
    const shows = Math.max(from, wall - offset)
    if (shows <= to) first = Math.min(first, shows)
    if (to < probe || probe === hi) {
      from = to + 1
      offset = zoneOffset(from, timeZone)
      probe = from
    }
  }
  return first
}

/**
 * The first instant in (from, to] at which the zone's offset differs from its offset at `from`, or
 * undefined. Probes a week apart, then a binary search: two changes less than a week apart that
 * cancel out are not seen (tzdata has none in the future of any zone).
 */
export function nextOffsetChange(from: number, to: number, timeZone: string): number | undefined {
  if (timeZone === 'UTC' || to <= from) return undefined
  const offset = zoneOffset(from, timeZone)
  for (let lo = from; lo < to; ) {
    const hi = Math.min(lo + 7 * DAY, to)
    if (zoneOffset(hi, timeZone) !== offset) return offsetChange(lo, hi, offset, timeZone)
    lo = hi
  }
  return undefined
}

/** The first instant in (from, to] whose offset differs from `offset` (there is one). */
function offsetChange(from: number, to: number, offset: number, timeZone: string): number {
  let lo = from
  let hi = to
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (zoneOffset(mid, timeZone) === offset) lo = mid
    else hi = mid
  }
  return hi
}

/** The minute or hour bucket holding `instant`: aligned on the offset at the instant, cut at offset changes. */
function clockBucket(instant: number, size: number, timeZone: string): CalendarBucket {
  const offset = zoneOffset(instant, timeZone)
  const wallStart = instant + offset - mod(instant + offset, size)
  let start = wallStart - offset
  if (zoneOffset(start, timeZone) !== offset) {
    // The offset changed inside this bucket's span: it starts at the change (the last one before instant).
    let from = start
    while (zoneOffset(from, timeZone) !== offset) from = offsetChange(from, instant, zoneOffset(from, timeZone), timeZone)
    start = from
  }
  let end = wallStart + size - offset
  if (zoneOffset(end - 1, timeZone) !== offset) end = offsetChange(instant, end - 1, offset, timeZone)
  return { start, end, wallStart }
}

function dateBucket(instant: number, unit: 'day' | 'week' | 'month', timeZone: string): CalendarBucket {
  let wallStart = calendarStart(wallMs(instant, timeZone), unit)
  let start = firstShowing(wallStart, timeZone, instant)
  let nextWall = nextCalendarStart(wallStart, unit)
  let end = firstShowing(nextWall, timeZone, instant)
  // Clocks set back across midnight show a date again after the next one began: the instant
  // belongs to the later date's bucket, so buckets never overlap.
  while (end <= instant) {
    wallStart = nextWall
    start = end
    nextWall = nextCalendarStart(wallStart, unit)
    end = firstShowing(nextWall, timeZone, end)
  }
  return { start, end, wallStart }
}

function utcBucket(instant: number, unit: CalendarUnit): CalendarBucket {
  if (unit === 'minute' || unit === 'hour') {
    const size = unit === 'minute' ? MINUTE : HOUR
    const start = instant - mod(instant, size)
    return { start, end: start + size, wallStart: start }
  }
  const start = calendarStart(instant, unit)
  return { start, end: nextCalendarStart(start, unit), wallStart: start }
}

/** The last bucket computed per zone and unit: most calls ask for the same one again. */
const recent = new Map<string, CalendarBucket>()

/**
 * The bucket of `unit` holding `instant` in `timeZone`: `start <= instant < end`, and the bucket
 * starting at `end` is the next one.
 * @throws RangeError for a time zone Intl does not know
 */
export function calendarBucket(instant: number, unit: CalendarUnit, timeZone: string): CalendarBucket {
  const id = `${timeZone}\u0000${unit}`
  const cached = recent.get(id)
  if (cached && instant >= cached.start && instant < cached.end) return cached
  const bucket =
    timeZone === 'UTC'
      ? utcBucket(instant, unit)
      : unit === 'minute' || unit === 'hour'
        ? clockBucket(instant, unit === 'minute' ? MINUTE : HOUR, timeZone)
        : dateBucket(instant, unit, timeZone)
  if (recent.size > 1000) recent.clear()
  recent.set(id, bucket)
  return bucket
}

/** Start (epoch ms) of the bucket holding `instant`. */
export function bucketStart(instant: number, unit: CalendarUnit, timeZone: string): number {
  return calendarBucket(instant, unit, timeZone).start
}

/** Start of the bucket after the one holding `instant` (after the one starting at `start`). */
export function nextBucketStart(instant: number, unit: CalendarUnit, timeZone: string): number {
  return calendarBucket(instant, unit, timeZone).end
}
