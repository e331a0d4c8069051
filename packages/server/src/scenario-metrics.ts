import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Scenarios } from './scenarios.js'

export const SCENARIO_METRIC_NAMES = {
  cacheRequests: 'redkit_cache_requests_total',
  cacheLoads: 'redkit_cache_loads_total',
  cacheCoalesced: 'redkit_cache_coalesced_total',
  cacheHitRatio: 'redkit_cache_hit_ratio',
  queueJobs: 'redkit_queue_jobs',
  queueProcessed: 'redkit_queue_jobs_processed_total',
  expiryLateness: 'redkit_expiry_lateness_seconds',
  devicesOnline: 'redkit_presence_online',
  inventoryAvailable: 'redkit_inventory_available',
  sessions: 'redkit_session_events_total',
  rateLimit: 'redkit_rate_limit_decisions_total',
  lockWait: 'redkit_lock_wait_seconds',
} as const

/**
 * The scenarios' metrics, in the app's registry: cache hits/misses and hit ratio, queue depth per
 * state and outcomes, expiry lateness, devices online, stock, session logins/logouts and
 * rate-limit decisions. Gauges are read from Redis at scrape time (one script per component);
 * counters count what this process saw. @returns the detach function
 */
export function registerScenarioMetrics(registry: Registry, scenarios: Scenarios): () => void {
  const registers = [registry]
  const cache = scenarios.users
  const seen = { hits: 0, nearHits: 0, misses: 0, coalesced: 0, loads: 0, loadErrors: 0 }
  new Counter({
    name: SCENARIO_METRIC_NAMES.cacheRequests,
    help: 'Cache lookups by result: hit (near: in-process tier, redis) or miss.',
    labelNames: ['cache', 'result', 'layer'],
    registers,
    collect() {
      // The cache keeps running totals; add what happened since the last scrape.
      const stats = cache.stats
      const redisHits = stats.hits - stats.nearHits
      this.inc({ cache: 'users', result: 'hit', layer: 'near' }, stats.nearHits - seen.nearHits)
      this.inc({ cache: 'users', result: 'hit', layer: 'redis' }, redisHits - (seen.hits - seen.nearHits))
      this.inc({ cache: 'users', result: 'miss', layer: 'redis' }, stats.misses - seen.misses)
      Object.assign(seen, { hits: stats.hits, nearHits: stats.nearHits, misses: stats.misses })
    },
  })
  new Counter({
    name: SCENARIO_METRIC_NAMES.cacheCoalesced,
    help: "Misses answered by another caller's load (single flight in this process, or the distributed stampede).",
    labelNames: ['cache'],
    registers,
    collect() {
      this.inc({ cache: 'users' }, cache.stats.coalesced - seen.coalesced)
      seen.coalesced = cache.stats.coalesced
    },
  })
  new Counter({
    name: SCENARIO_METRIC_NAMES.cacheLoads,
    help: 'Loader calls (database reads) by outcome.',
    labelNames: ['cache', 'outcome'],
    registers,
    collect() {
      const stats = cache.stats
      this.inc({ cache: 'users', outcome: 'ok' }, stats.loads - stats.loadErrors - (seen.loads - seen.loadErrors))
      this.inc({ cache: 'users', outcome: 'error' }, stats.loadErrors - seen.loadErrors)
      Object.assign(seen, { loads: stats.loads, loadErrors: stats.loadErrors })
    },
  })
  new Gauge({
    name: SCENARIO_METRIC_NAMES.cacheHitRatio,
    help: 'Hits / (hits + misses) since the service started (NaN before the first lookup).',
    labelNames: ['cache'],
    registers,
    collect() {
      const { hits, misses } = cache.stats
      this.set({ cache: 'users' }, hits + misses === 0 ? Number.NaN : hits / (hits + misses))
    },
  })
  new Gauge({
    name: SCENARIO_METRIC_NAMES.queueJobs,
    help: 'Jobs per state (one consistent snapshot per scrape).',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      const counts = await scenarios.queue.counts()
      for (const [state, value] of Object.entries(counts)) {
        if (typeof value === 'number') this.set({ queue: scenarios.queue.name, state }, value)
      }
    },
  })
  const processed = new Counter({
    name: SCENARIO_METRIC_NAMES.queueProcessed,
    help: "Deliveries finished by this service's worker: completed, failed (to be retried) or dead (dead-lettered).",
    labelNames: ['queue', 'outcome'],
    registers,
  })
  const lateness = new Histogram({
    name: SCENARIO_METRIC_NAMES.expiryLateness,
    help: 'How late reliable expiry events reached the dashboard group after their deadline.',
    labelNames: ['mode'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  new Gauge({
    name: SCENARIO_METRIC_NAMES.devicesOnline,
    help: 'Members online now (server clock).',
    labelNames: ['presence'],
    registers,
    async collect() {
      this.set({ presence: 'devices' }, await scenarios.devices.count())
    },
  })
  new Gauge({
    name: SCENARIO_METRIC_NAMES.inventoryAvailable,
    help: 'Units available per product (not counting reserved ones).',
    labelNames: ['inventory', 'product'],
    registers,
    async collect() {
      await Promise.all(
        scenarios.products.map(async (product) =>
          this.set({ inventory: 'shop', product: product.id }, await scenarios.inventory.available(product.id)),
        ),
      )
    },
  })
  const sessions = new Counter({
    name: SCENARIO_METRIC_NAMES.sessions,
    help: 'Session logins, and sessions ended by logout (here or everywhere), through this service.',
    labelNames: ['event'],
    registers,
  })
  const rateLimit = new Counter({
    name: SCENARIO_METRIC_NAMES.rateLimit,
    help: 'Decisions of the rate limiter on GET /api/limited.',
    labelNames: ['limiter', 'decision'],
    registers,
  })
  const lockWait = new Histogram({
    name: SCENARIO_METRIC_NAMES.lockWait,
    help: 'How long lock tasks (POST /api/locks/:name/hold) waited, by outcome: acquired, timeout or error.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  })
  for (const outcome of ['completed', 'failed', 'dead']) processed.inc({ queue: scenarios.queue.name, outcome }, 0)
  for (const decision of ['allowed', 'denied']) rateLimit.inc({ limiter: 'api', decision }, 0)
  for (const event of ['login', 'logout']) sessions.inc({ event }, 0)

  return scenarios.hub.subscribe((event) => {
    const data = event.data as Record<string, unknown>
    switch (event.type) {
      case 'expiration':
        lateness.observe({ mode: String(data.mode) }, Math.max(0, Number(data.lateMs)) / 1000)
        break
      case 'job':
        if (data.state === 'completed' || data.state === 'failed' || data.state === 'dead') {
          processed.inc({ queue: scenarios.queue.name, outcome: data.state })
        }
        break
      case 'lock-wait':
        lockWait.observe({ outcome: String(data.outcome) }, Number(data.seconds))
        break
      case 'rate-limit':
        rateLimit.inc({ limiter: 'api', decision: data.allowed ? 'allowed' : 'denied' })
        break
      case 'session':
        if (data.login) sessions.inc({ event: 'login' })
        else if (typeof data.ended === 'number') sessions.inc({ event: 'logout' }, data.ended)
        break
    }
  })
}
