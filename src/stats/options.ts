import { ErrorCodes, RedkitError } from '../core/errors.js'
import { duration, integer, oneOf, optionsObject, timeZone } from './checks.js'
import type {
  Granularity,
  LeaderboardOptions,
  LeaderboardOrder,
  LeaderboardPeriod,
  RateLimitAlgorithm,
  RateLimiterOptions,
  SlidingWindowOptions,
  TimeseriesOptions,
  UniqueOptions,
} from './types.js'

const DAY = 86_400_000

/** Every default of `redkit/stats`, cited by the options' TSDoc. */
export const DEFAULTS = {
  rateLimiter: { algorithm: 'sliding-window' as RateLimitAlgorithm, inMemoryBlock: true, inMemoryBlockMaxKeys: 10_000, buckets: 10 },
  leaderboard: { order: 'desc' as LeaderboardOrder, period: 'none' as LeaderboardPeriod, timeZone: 'UTC', keepPastMs: 7 * DAY },
  timeseries: {
    granularities: ['minute', 'hour', 'day', 'month'] as readonly Granularity[],
    retention: { minute: 2 * DAY, hour: 30 * DAY, day: 400 * DAY, month: 5 * 366 * DAY } as Record<Granularity, number>,
    timeZone: 'UTC',
  },
  unique: { granularity: 'day' as 'hour' | 'day', retentionMs: 400 * DAY, timeZone: 'UTC' },
  slidingWindow: { buckets: 60, maxBuckets: 10_000 },
} as const

export const ALGORITHMS: readonly RateLimitAlgorithm[] = ['sliding-window', 'token-bucket', 'fixed-window']
export const GRANULARITIES: readonly Granularity[] = ['minute', 'hour', 'day', 'month']
/** Largest limit: costs are counted exactly in Lua doubles. */
export const MAX_LIMIT = 1_000_000_000
/** Longest retention: ten years, in ms (beyond Node timer range: it is only handed to PEXPIREAT). */
const MAX_RETENTION_MS = 3660 * DAY

/** Resolved limiter options; `precisionMs` is the sliding window's bucket (for the other algorithms: windowMs, unused). */
export type ResolvedRateLimiterOptions = Required<RateLimiterOptions>

export function resolveRateLimiter(options: RateLimiterOptions): ResolvedRateLimiterOptions {
  const o = optionsObject(options, 'rateLimiter options')
  if (o.limit === undefined || o.windowMs === undefined)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'rateLimiter needs { limit, windowMs }')
  const d = DEFAULTS.rateLimiter
  const inMemoryBlock = o.inMemoryBlock ?? d.inMemoryBlock
  if (typeof inMemoryBlock !== 'boolean') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'inMemoryBlock must be a boolean')
  const windowMs = duration(o.windowMs, 'windowMs')
  const algorithm = oneOf(o.algorithm ?? d.algorithm, 'algorithm', ALGORITHMS)
  if (algorithm !== 'sliding-window' && o.precisionMs !== undefined)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `precisionMs is the sliding window's bucket: ${algorithm} takes none`)
  return {
    limit: integer(o.limit, 'limit', 1, MAX_LIMIT),
    windowMs,
    algorithm,
    precisionMs: algorithm === 'sliding-window' ? bucketsOf(windowMs, o.precisionMs, d.buckets).precisionMs : windowMs,
    inMemoryBlock,
    inMemoryBlockMaxKeys: integer(o.inMemoryBlockMaxKeys ?? d.inMemoryBlockMaxKeys, 'inMemoryBlockMaxKeys', 1, 10_000_000),
  }
}

export interface ResolvedLeaderboardOptions {
  maxSize: number | undefined
  order: LeaderboardOrder
  period: LeaderboardPeriod
  timeZone: string
  keepPastMs: number
  clock: LeaderboardOptions['clock']
}

export function resolveLeaderboard(options: LeaderboardOptions | undefined): ResolvedLeaderboardOptions {
  const o = optionsObject(options, 'leaderboard options')
  const d = DEFAULTS.leaderboard
  return {
    maxSize: o.maxSize === undefined ? undefined : integer(o.maxSize, 'maxSize', 1, 100_000_000),
    order: oneOf(o.order ?? d.order, 'order', ['desc', 'asc'] as const),
    period: oneOf(o.period ?? d.period, 'period', ['none', 'daily', 'weekly'] as const),
    timeZone: timeZone(o.timeZone ?? d.timeZone, 'timeZone'),
    keepPastMs: integer(o.keepPastMs ?? d.keepPastMs, 'keepPastMs', 0, MAX_RETENTION_MS),
    clock: o.clock,
  }
}

export interface ResolvedTimeseriesOptions {
  granularities: readonly Granularity[]
  retention: Record<Granularity, number>
  timeZone: string
  clock: TimeseriesOptions['clock']
}

export function resolveTimeseries(options: TimeseriesOptions | undefined): ResolvedTimeseriesOptions {
  const o = optionsObject(options, 'timeseries options')
  const d = DEFAULTS.timeseries
  const list = o.granularities ?? d.granularities
  if (!Array.isArray(list) || list.length === 0)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `granularities must be a non-empty array of ${GRANULARITIES.join(', ')}`)
  const granularities = [...new Set(list.map((g) => oneOf(g, 'granularity', GRANULARITIES)))]
  const given = optionsObject(o.retention, 'retention')
  const retention = { ...d.retention }
  for (const [name, ms] of Object.entries(given))
    retention[oneOf(name, 'retention key', GRANULARITIES)] = integer(ms, `retention.${name}`, 1, MAX_RETENTION_MS)
  return { granularities, retention, timeZone: timeZone(o.timeZone ?? d.timeZone, 'timeZone'), clock: o.clock }
}

export function resolveUnique(options: UniqueOptions | undefined): Required<Omit<UniqueOptions, 'clock'>> & Pick<UniqueOptions, 'clock'> {
  const o = optionsObject(options, 'unique options')
  const d = DEFAULTS.unique
  return {
    granularity: oneOf(o.granularity ?? d.granularity, 'granularity', ['hour', 'day'] as const),
    retentionMs: integer(o.retentionMs ?? d.retentionMs, 'retentionMs', 1, MAX_RETENTION_MS),
    timeZone: timeZone(o.timeZone ?? d.timeZone, 'timeZone'),
    clock: o.clock,
  }
}

export function resolveSlidingWindow(options: SlidingWindowOptions): Required<SlidingWindowOptions> & { buckets: number } {
  const o = optionsObject(options, 'slidingWindow options')
  if (o.windowMs === undefined) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'slidingWindow needs { windowMs }')
  const windowMs = duration(o.windowMs, 'windowMs')
  return { windowMs, ...bucketsOf(windowMs, o.precisionMs, DEFAULTS.slidingWindow.buckets) }
}

/**
 * The buckets of a window (a sliding window counter's, or a sliding-window rate limiter's):
 * `precisionMs` must divide `windowMs` into at most DEFAULTS.slidingWindow.maxBuckets buckets;
 * without it, defaultPrecision(windowMs, fewest).
 */
function bucketsOf(windowMs: number, precision: unknown, fewest: number): { precisionMs: number; buckets: number } {
  const precisionMs = precision === undefined ? defaultPrecision(windowMs, fewest) : duration(precision, 'precisionMs')
  const buckets = windowMs / precisionMs
  if (!Number.isInteger(buckets) || buckets > DEFAULTS.slidingWindow.maxBuckets)
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      precision === undefined
        ? `windowMs (${windowMs}) has no divisor that makes ${fewest} to ${DEFAULTS.slidingWindow.maxBuckets} buckets: pass precisionMs (a divisor of windowMs)`
        : `windowMs (${windowMs}) must be a multiple of precisionMs (${precisionMs}), with at most ${DEFAULTS.slidingWindow.maxBuckets} buckets`,
    )
  return { precisionMs, buckets }
}

/**
 * The default bucket size of a sliding window: the largest divisor of windowMs that makes at least
 * `fewest` buckets (1 ms for windows shorter than `fewest` ms), so that common windows work without
 * a precision. A counter (60 buckets): 1000 ms gets 10 ms buckets (100), 5000 ms 50 ms (100),
 * 10,000 ms 125 ms (80), 60,000 ms 1000 ms (60). A rate limiter (10 buckets): 1000 ms gets 100 ms,
 * 60,000 ms 6 s. A windowMs with no such divisor (a prime: 7919 ms) would need 1 ms buckets, more
 * than 10,000 past 10 s: pass precisionMs then (the error says so).
 */
export function defaultPrecision(windowMs: number, fewest: number = DEFAULTS.slidingWindow.buckets): number {
  const most = Math.max(1, Math.floor(windowMs / fewest))
  let best = 1
  for (let d = 1; d * d <= windowMs; d++) {
    if (windowMs % d !== 0) continue
    if (d <= most && d > best) best = d
    const pair = windowMs / d
    if (pair <= most && pair > best) best = pair
  }
  return best
}
