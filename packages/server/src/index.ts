export { type ApiErrorBody, apiError } from './api/errors.js'
export { type LockTask, locksSnapshot } from './api/locks.js'
export { type SseStream, SseStreams } from './api/sse.js'
export { type AppOptions, buildApp } from './app.js'
export {
  type DemoDatabase,
  defaultPgliteDir,
  displayDatabaseUrl,
  MEMORY,
  type OpenDatabaseOptions,
  openDatabase,
  type Product,
  SEED_PRODUCTS,
  SEED_USERS,
  type User,
  type UserPatch,
} from './db.js'
export { type DemoFlags, runDemo } from './demo.js'
export {
  DEFAULT_LOCAL_REDIS_PORT,
  defaultLocalRedisPort,
  displayRedisUrl,
  parsePort,
  type RedisSource,
  type ResolvedRedis,
  type ResolveRedisOptions,
  resolveRedis,
} from './embedded-redis.js'
export { EventHub, type HubEvent, percentile, Ring } from './hub.js'
export { LoadGenerator, type LoadOptions, type LoadStats } from './load.js'
export { createServiceMetrics, METRIC_NAMES, type ServiceMetrics, type ServiceMetricsOptions } from './metrics.js'
export { type ProbeResult, RedisProbe, type RedisProbeOptions } from './probe.js'
export { type HealthOk, type HealthUnavailable, healthRoutes } from './routes/health.js'
export { metricsRoutes } from './routes/metrics.js'
export { registerScenarioMetrics, SCENARIO_METRIC_NAMES } from './scenario-metrics.js'
export {
  type DatabaseStatus,
  type DemoJobData,
  type OfflineDevice,
  QUEUE_NAME,
  type ScenarioOptions,
  Scenarios,
  userKey,
} from './scenarios.js'
export {
  type RunningService,
  type RunServiceOptions,
  resolveServeConfig,
  runService,
  type ServeConfig,
  type ServeFlags,
  type StartServiceOptions,
  startService,
} from './serve.js'
