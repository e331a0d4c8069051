import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { ReconnectingEvent, Redkit } from 'redkit'
import type { RedisProbe } from './probe.js'

/**
 * Prometheus metrics of the service. Everything lives in one `Registry` owned by the app (never
 * prom-client's global one), so several apps can share a process and tests stay independent.
 *
 * Modules add their own metrics to the same registry, e.g. in a route plugin:
 * ```ts
 * new Counter({ name: 'redkit_cache_hits_total', help: '...', registers: [app.metrics.registry] })
 * ```
 * Names start with `redkit_`; default process metrics keep their standard names.
 */
export interface ServiceMetrics {
  readonly registry: Registry
  /** 1 when the last PING answered, 0 otherwise; refreshed by a bounded PING on every scrape. */
  readonly redisUp: Gauge
  /** Round-trip time of successful PINGs (health checks and scrapes). */
  readonly redisPingSeconds: Histogram
  /** Reconnect attempts since the service started (one per `reconnecting` event). */
  readonly redisReconnects: Counter
  /** Detaches from rk and the probe (the app calls it on close). */
  close(): void
}

export const METRIC_NAMES = {
  redisUp: 'redkit_redis_up',
  redisPingSeconds: 'redkit_redis_ping_seconds',
  redisReconnects: 'redkit_redis_reconnects_total',
} as const

export interface ServiceMetricsOptions {
  rk: Redkit
  probe: RedisProbe
  /** Register prom-client's default process metrics (CPU, memory, event loop lag, GC). @defaultValue true */
  defaultMetrics?: boolean
}

export function createServiceMetrics(options: ServiceMetricsOptions): ServiceMetrics {
  const { rk, probe } = options
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })

  // Both collect() calls await the same in-flight probe, so one scrape costs one PING and the
  // histogram already holds that PING's observation when it is serialized.
  const redisUp = new Gauge({
    name: METRIC_NAMES.redisUp,
    help: 'Whether Redis answered a PING within the probe timeout (1) or not (0).',
    registers: [registry],
    async collect() {
      await probe.check()
    },
  })
  const redisPingSeconds = new Histogram({
    name: METRIC_NAMES.redisPingSeconds,
    help: 'Round-trip time of successful Redis PINGs, in seconds.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
    async collect() {
      await probe.check()
    },
  })
  const redisReconnects = new Counter({
    name: METRIC_NAMES.redisReconnects,
    help: 'Reconnect attempts to Redis since the service started.',
    registers: [registry],
  })

  const offProbe = probe.onResult((result) => {
    redisUp.set(result.ok ? 1 : 0)
    if (result.ok) redisPingSeconds.observe(result.latencyMs / 1000)
  })
  const onReconnecting = (_event: ReconnectingEvent) => {
    redisReconnects.inc()
    redisUp.set(0)
  }
  const onReady = () => redisUp.set(1)
  rk.on('reconnecting', onReconnecting)
  rk.on('ready', onReady)
  redisUp.set(rk.connection.isReady ? 1 : 0)

  return {
    registry,
    redisUp,
    redisPingSeconds,
    redisReconnects,
    close() {
      offProbe()
      rk.off('reconnecting', onReconnecting)
      rk.off('ready', onReady)
    },
  }
}
