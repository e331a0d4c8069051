export { BloomFilter } from './bloom.js'
export { Leaderboard, type LeaderboardReadOptions } from './leaderboard.js'
export { rateLimitExpress } from './rate-limiter/express.js'
export { rateLimitFastify } from './rate-limiter/fastify.js'
export type { RateLimitHeaderDraft } from './rate-limiter/headers.js'
export { RateLimiter } from './rate-limiter/limiter.js'
export type { RateLimitMiddlewareOptions } from './rate-limiter/middleware.js'
export { SlidingWindowCounter } from './sliding-window.js'
export { Timeseries } from './timeseries.js'
export type {
  BloomOptions,
  BloomSize,
  Bucket,
  Granularity,
  LeaderboardEntry,
  LeaderboardOptions,
  LeaderboardOrder,
  LeaderboardPeriod,
  RangeQuery,
  RateLimitAlgorithm,
  RateLimiterOptions,
  RateLimitResult,
  SlidingWindowOptions,
  TimeseriesOptions,
  UniqueOptions,
} from './types.js'
export { UniqueCounter } from './unique.js'
