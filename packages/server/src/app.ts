import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Redkit } from 'redkit'
import { dashboardRoutes, defaultDashboardDir } from './api/dashboard.js'
import { deviceRoutes } from './api/devices.js'
import { installErrorHandler } from './api/errors.js'
import { inventoryRoutes } from './api/inventory.js'
import { jobRoutes } from './api/jobs.js'
import { liveRoutes } from './api/live.js'
import { lockRoutes } from './api/locks.js'
import { sessionRoutes } from './api/sessions.js'
import { SseStreams } from './api/sse.js'
import { statsRoutes } from './api/stats.js'
import { userRoutes } from './api/users.js'
import { createServiceMetrics, type ServiceMetrics } from './metrics.js'
import { RedisProbe } from './probe.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes } from './routes/metrics.js'
import { registerScenarioMetrics } from './scenario-metrics.js'
import type { DatabaseStatus, Scenarios } from './scenarios.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The redkit instance the service runs on (owned by the caller of buildApp). */
    redkit: Redkit
    /** The app's Prometheus registry and core metrics; modules register theirs here. */
    metrics: ServiceMetrics
    /** Bounded, coalesced Redis PING used by /health and /metrics. */
    redisProbe: RedisProbe
    /** Where the demo database stands (with scenarios; undefined without). */
    databaseStatus: (() => DatabaseStatus) | undefined
  }
}

export interface AppOptions {
  /** The caller keeps ownership: closing the app does not close rk. */
  rk: Redkit
  /** Bound of the Redis PING behind /health and /metrics. @defaultValue 1000 */
  healthTimeoutMs?: number
  /** Register prom-client's default process metrics. @defaultValue true */
  defaultMetrics?: boolean
  /** Fastify logger option. @defaultValue false */
  logger?: FastifyServerOptions['logger']
  /**
   * The scenarios behind the REST API, SSE streams and dashboard (`new Scenarios(rk, db)`, started).
   * The app owns them: closing the app closes them. Without it the app answers only /health and /metrics.
   */
  scenarios?: Scenarios
  /** How often the live stream pushes a dashboard snapshot. @defaultValue 1000 */
  snapshotIntervalMs?: number
  /** The built dashboard served at `/`. @defaultValue the package's `dist/web` */
  dashboardDir?: string
}

/**
 * Builds the service's Fastify app. Route plugins live in `./routes/` and reach shared state through
 * the `redkit`, `metrics` and `redisProbe` decorations; later modules (REST API, SSE, dashboard)
 * are registered the same way below.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    forceCloseConnections: 'idle',
    // Unknown fields are refused (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  })
  installErrorHandler(app)
  const probe = new RedisProbe(options.rk, options.healthTimeoutMs === undefined ? {} : { timeoutMs: options.healthTimeoutMs })
  const metrics = createServiceMetrics({
    rk: options.rk,
    probe,
    ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }),
  })
  app.decorate('redkit', options.rk)
  app.decorate('redisProbe', probe)
  app.decorate('metrics', metrics)
  app.decorate('databaseStatus', options.scenarios ? () => (options.scenarios as Scenarios).databaseStatus() : undefined)
  app.addHook('onClose', async () => metrics.close())

  await app.register(healthRoutes)
  await app.register(metricsRoutes)

  const { scenarios } = options
  if (scenarios) {
    const streams = new SseStreams()
    // SSE streams never finish by themselves: end them first, or close() would wait for them.
    app.addHook('preClose', async () => streams.closeAll())
    const detachMetrics = registerScenarioMetrics(metrics.registry, scenarios)
    app.addHook('onClose', async () => {
      detachMetrics()
      await scenarios.close()
    })
    await app.register(deviceRoutes(scenarios))
    await app.register(inventoryRoutes(scenarios))
    await app.register(jobRoutes(scenarios))
    await app.register(userRoutes(scenarios))
    await app.register(statsRoutes(scenarios))
    await app.register(sessionRoutes(scenarios))
    await app.register(lockRoutes(scenarios))
    await app.register(dashboardRoutes(options.dashboardDir ?? defaultDashboardDir()))
    await app.register(
      liveRoutes(scenarios, streams, options.snapshotIntervalMs === undefined ? {} : { snapshotIntervalMs: options.snapshotIntervalMs }),
    )
  }
  return app
}
