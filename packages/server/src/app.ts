import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Redkit } from 'redkit'
import { createServiceMetrics, type ServiceMetrics } from './metrics.js'
import { RedisProbe } from './probe.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes } from './routes/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The redkit instance the service runs on (owned by the caller of buildApp). */
    redkit: Redkit
    /** The app's Prometheus registry and core metrics; modules register theirs here. */
    metrics: ServiceMetrics
    /** Bounded, coalesced Redis PING used by /health and /metrics. */
    redisProbe: RedisProbe
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
}

/**
 * Builds the service's Fastify app. Route plugins live in `./routes/` and reach shared state through
 * the `redkit`, `metrics` and `redisProbe` decorations; later modules (REST API, SSE, dashboard)
 * are registered the same way below.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, forceCloseConnections: 'idle' })
  const probe = new RedisProbe(options.rk, options.healthTimeoutMs === undefined ? {} : { timeoutMs: options.healthTimeoutMs })
  const metrics = createServiceMetrics({
    rk: options.rk,
    probe,
    ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }),
  })
  app.decorate('redkit', options.rk)
  app.decorate('redisProbe', probe)
  app.decorate('metrics', metrics)
  app.addHook('onClose', async () => metrics.close())

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  return app
}
