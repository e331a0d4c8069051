import type { Redkit, Subscription } from 'redkit'
import type { Cache } from 'redkit/cache'
import type { Presence } from 'redkit/events'
import type { Inventory, Reservation } from 'redkit/lock'
import type { Queue, Worker } from 'redkit/messaging'
import type { SessionManager } from 'redkit/session'
import type { Leaderboard, RateLimiter, Timeseries, UniqueCounter } from 'redkit/stats'
import type { LockTask } from './api/locks.js'
import type { DemoDatabase, Product, User } from './db.js'
import { EventHub, percentile, Ring } from './hub.js'

/** What a demo job does when a worker runs it. */
export interface DemoJobData {
  kind: 'ok' | 'fail' | 'slow'
  /** How long it works (ms). */
  ms?: number
  /** The error message of a failing job. */
  message?: string
  payload?: unknown
}

export interface ScenarioOptions {
  /** Heartbeat TTL of devices. @defaultValue 10_000 */
  deviceTtlMs?: number
  /** How long an inventory reservation holds its units. @defaultValue 30_000 */
  reservationLapseMs?: number
  /** Rate limit of `GET /api/limited`: requests per window per client. @defaultValue 10 */
  rateLimit?: number
  /** @defaultValue 10_000 */
  rateWindowMs?: number
  /** Jobs the in-process worker runs at once. @defaultValue 4 */
  workerConcurrency?: number
}

export const QUEUE_NAME = 'jobs'

interface SimulatedDevice {
  id: string
  timer: NodeJS.Timeout | undefined
  beats: number
  startedAt: number
}

/** Where the demo database stands: the service listens at once and opens it meanwhile. */
export interface DatabaseStatus {
  state: 'opening' | 'open' | 'failed'
  /** One line: which database and where (from the database once open). */
  description?: string
  /** How long it has been opening, or took to open (and seed Redis from). */
  ms: number
  /** Why it could not be opened (state `failed`). */
  error?: string
}

export interface OfflineDevice {
  id: string
  offlineAt: number
  lastBeat: number
}

/**
 * Every scenario of the service, built on one Redkit instance and the demo database: the
 * components the routes use, a simulator for devices, and counters the dashboard and /metrics read.
 * `start()` subscribes to what the dashboard shows; `close()` stops the simulator, the worker and
 * the subscriptions (rk itself is closed by its owner).
 */
export class Scenarios {
  readonly hub = new EventHub()
  readonly devices: Presence<{ simulated?: boolean; firmware?: string }>
  readonly inventory: Inventory
  readonly queue: Queue<DemoJobData>
  readonly users: Cache<User>
  readonly pageViews: Timeseries
  readonly visitors: UniqueCounter
  readonly board: Leaderboard
  readonly limiter: RateLimiter
  readonly sessions: SessionManager<{ user: string; device: string }>
  readonly deviceTtlMs: number
  readonly reservationLapseMs: number
  readonly rateLimit: number
  readonly rateWindowMs: number
  /** Rate-limit decisions of `GET /api/limited` since start. */
  readonly rateDecisions = { allowed: 0, denied: 0 }
  /** Job outcomes seen by this process's worker since start. */
  readonly jobOutcomes = { completed: 0, failed: 0, dead: 0 }
  /** The latest expiry events (for the lateness chart). */
  readonly expirations = new Ring<{ key: string; lateMs: number; firedAt: number }>(500)
  readonly offline = new Map<string, OfflineDevice>()
  readonly simulated = new Map<string, SimulatedDevice>()
  /** Reservations made through this service that are still live (the library keeps no list). */
  readonly reservations = new Map<string, Reservation>()
  /** Lock tasks of `POST /api/locks/:name/hold` (waiting or holding), and their runs (awaited by close). */
  readonly lockTasks = new Map<string, LockTask>()
  readonly lockRuns = new Set<Promise<void>>()
  readonly #closing = new AbortController()
  #worker: Worker<DemoJobData, unknown> | undefined
  #products: Product[] = []
  readonly #subscriptions: Subscription[] = []
  readonly #workerConcurrency: number
  #closed = false
  readonly #dbOpening: Promise<DemoDatabase>
  #db: DemoDatabase | undefined
  #dbStatus: DatabaseStatus
  readonly #dbSince = performance.now()
  #dbReady: Promise<void> | undefined

  /**
   * @param database the demo database, or its opening: everything on Redis runs at once, the routes
   * that need the database answer 503 until it is open (see {@link databaseStatus})
   */
  constructor(
    readonly rk: Redkit,
    database: DemoDatabase | Promise<DemoDatabase>,
    options: ScenarioOptions = {},
  ) {
    this.#dbOpening = Promise.resolve(database)
    this.#dbOpening.catch(() => {})
    this.#dbStatus = { state: 'opening', ms: 0 }
    this.deviceTtlMs = options.deviceTtlMs ?? 10_000
    this.reservationLapseMs = options.reservationLapseMs ?? 30_000
    this.rateLimit = options.rateLimit ?? 10
    this.rateWindowMs = options.rateWindowMs ?? 10_000
    this.#workerConcurrency = options.workerConcurrency ?? 4
    this.devices = rk.presence('devices', { ttlMs: this.deviceTtlMs, reapIntervalMs: 1000 })
    this.inventory = rk.inventory('shop', { lapseMs: this.reservationLapseMs })
    this.queue = rk.queue<DemoJobData>(QUEUE_NAME)
    this.users = rk.cache<User>('users', {
      ttlMs: 60_000,
      negativeTtlMs: 5_000,
      staleWhileRevalidateMs: 30_000,
      near: { maxEntries: 10_000, ttlMs: 5_000 },
      bloom: rk.bloom('user-ids', { expectedItems: 100_000, falsePositiveRate: 0.01 }),
    })
    this.pageViews = rk.timeseries('page-views')
    this.visitors = rk.unique('visitors', { granularity: 'hour' })
    this.board = rk.leaderboard('game')
    this.limiter = rk.rateLimiter('api', { limit: this.rateLimit, windowMs: this.rateWindowMs })
    this.sessions = rk.sessions<{ user: string; device: string }>({
      name: 'demo',
      idleTimeoutMs: 30 * 60_000,
      absoluteTimeoutMs: 8 * 3600_000,
    })
  }

  get products(): readonly Product[] {
    return this.#products
  }

  /** The demo database, once open (the routes that use it check {@link databaseStatus} first). */
  get db(): DemoDatabase {
    if (this.#db && this.#dbStatus.state === 'open') return this.#db
    throw new Error(`the demo database is ${this.#dbStatus.state}`)
  }

  databaseStatus(): DatabaseStatus {
    const status = { ...this.#dbStatus }
    if (status.state === 'opening') status.ms = Math.round(performance.now() - this.#dbSince)
    return status
  }

  /** Resolves once the database is open and Redis is seeded from it; rejects when it could not be opened. Call after start(). */
  databaseReady(): Promise<void> {
    if (!this.#dbReady) return Promise.reject(new Error('Scenarios.start() was not called'))
    return this.#dbReady
  }

  /**
   * Starts everything that runs on Redis alone (presence, expiry and job subscriptions, the worker)
   * and returns; the database is awaited meanwhile, then Redis is seeded from it (stock once per
   * Redis, the user-id filter always) and the routes that need it open (`databaseReady()`).
   */
  async start(): Promise<void> {
    await this.inventory.start()
    this.#dbReady = this.#dbOpening
      .then(async (db) => {
        this.#db = db
        if (this.#closed) return
        this.#products = await db.products()
        // Stock is seeded once per Redis: a restart must not reset stock that live reservations will return.
        if ((await this.rk.counter('demo-stock-seeded').incr()) === 1) {
          for (const product of this.#products) await this.inventory.setStock(product.id, product.initialStock)
        }
        const ids = await db.userIds()
        if (this.users.bloom && ids.length > 0) await this.users.bloom.addMany(ids.map((id) => userKey(id)))
        this.#dbStatus = { state: 'open', description: db.description, ms: Math.round(performance.now() - this.#dbSince) }
        this.hub.publish('database', this.databaseStatus())
      })
      .catch((error: unknown) => {
        this.#dbStatus = {
          state: 'failed',
          ms: Math.round(performance.now() - this.#dbSince),
          error: error instanceof Error ? error.message : String(error),
        }
        this.hub.publish('database', this.databaseStatus())
        throw error
      })
    this.#dbReady.catch(() => {})

    this.#subscriptions.push(
      await this.devices.on(
        'online',
        (event) => {
          this.offline.delete(event.id)
          this.hub.publish('device', { id: event.id, online: true, at: event.since })
        },
        { group: 'dashboard' },
      ),
      await this.devices.on(
        'offline',
        (event) => {
          this.offline.set(event.id, { id: event.id, offlineAt: event.at, lastBeat: event.lastBeat })
          if (this.offline.size > 200) this.offline.delete(this.offline.keys().next().value as string)
          this.hub.publish('device', { id: event.id, online: false, at: event.at })
        },
        { group: 'dashboard' },
      ),
      await this.rk.expirations.on(
        `${this.rk.keys.prefix}:*`,
        (event) => {
          const lateMs = event.lateMs ?? 0
          this.expirations.push({ key: event.key, lateMs, firedAt: event.firedAt })
          this.hub.publish('expiration', { key: event.key, lateMs, mode: event.mode })
        },
        { group: 'dashboard' },
      ),
    )

    const worker = this.rk.worker<DemoJobData, unknown>(QUEUE_NAME, (job) => runDemoJob(job), {
      concurrency: this.#workerConcurrency,
      visibilityTimeoutMs: 15_000,
      idleBlockMs: 1000,
    })
    worker.on('completed', (job) => {
      this.jobOutcomes.completed++
      this.hub.publish('job', { id: job.id, state: 'completed' })
    })
    worker.on('failed', (job, error, retryInMs) => {
      this.jobOutcomes.failed++
      this.hub.publish('job', { id: job.id, state: 'failed', error: error.message, retryInMs })
    })
    worker.on('dead', (id, error) => {
      this.jobOutcomes.dead++
      this.hub.publish('job', { id, state: 'dead', error: error.message })
    })
    worker.on('error', () => {})
    this.#worker = worker
  }

  /** Starts heartbeats of a simulated device (every ttl/3). @returns false when it was running already */
  async startDevice(id: string): Promise<boolean> {
    const existing = this.simulated.get(id)
    if (existing?.timer) return false
    await this.devices.beat(id, { simulated: true })
    const device: SimulatedDevice = existing ?? { id, timer: undefined, beats: 0, startedAt: Date.now() }
    device.beats++
    device.timer = setInterval(
      () => {
        device.beats++
        this.devices.beat(id, { simulated: true }).catch(() => {})
      },
      Math.max(100, Math.floor(this.deviceTtlMs / 3)),
    )
    device.timer.unref()
    this.simulated.set(id, device)
    this.hub.publish('simulator', { id, running: true })
    return true
  }

  /**
   * `stop` pauses a simulated device's heartbeats (it stays in the simulator, restartable); `kill`
   * also removes it from the simulator. Either way Redis hears nothing more, and the device goes
   * offline when its last heartbeat's TTL runs out. @returns false for an unknown device
   */
  stopDevice(id: string, kill = false): boolean {
    const device = this.simulated.get(id)
    if (!device) return false
    clearInterval(device.timer)
    device.timer = undefined
    if (kill) this.simulated.delete(id)
    this.hub.publish('simulator', { id, running: false, killed: kill })
    return true
  }

  /** Live reservations made here, without those past their lapse (their units are back in stock). */
  liveReservations(now = Date.now()): Reservation[] {
    for (const [id, reservation] of this.reservations) if (reservation.expiresAt <= now) this.reservations.delete(id)
    return [...this.reservations.values()]
  }

  latenessSummary(): {
    count: number
    p50: number | undefined
    p99: number | undefined
    recent: Array<{ key: string; lateMs: number; firedAt: number }>
  } {
    const events = this.expirations.toArray()
    const late = events.map((event) => event.lateMs)
    return { count: events.length, p50: percentile(late, 50), p99: percentile(late, 99), recent: events.slice(-20).reverse() }
  }

  /** Aborted when the scenarios close: lock waits and holds end then. */
  get closing(): AbortSignal {
    return this.#closing.signal
  }

  get worker(): Worker<DemoJobData, unknown> | undefined {
    return this.#worker
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#closing.abort()
    for (const id of [...this.simulated.keys()]) this.stopDevice(id, true)
    await Promise.allSettled([...this.lockRuns])
    const errors: unknown[] = []
    for (const step of [
      () => this.#worker?.close(),
      ...this.#subscriptions.map((subscription) => () => subscription.close()),
      () => this.devices.close(),
      () => this.inventory.close(),
      () => this.users.close(),
    ]) {
      try {
        await step()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length > 0) throw errors[0]
  }
}

export function userKey(id: number): string {
  return `user:${id}`
}

async function runDemoJob(job: {
  data: DemoJobData
  attemptsMade: number
  signal: AbortSignal
  updateProgress(value: unknown): Promise<void>
  log(line: string): Promise<number>
}) {
  const { kind, ms = kind === 'slow' ? 3000 : 100 } = job.data
  const steps = kind === 'slow' ? 5 : 1
  await job.log(`attempt ${job.attemptsMade + 1}: ${kind} job, ${ms} ms`)
  for (let step = 1; step <= steps; step++) {
    await new Promise((resolve) => setTimeout(resolve, ms / steps))
    if (job.signal.aborted) throw new Error('aborted')
    if (steps > 1) {
      await job.updateProgress({ step, of: steps })
      await job.log(`step ${step} of ${steps} done`)
    }
  }
  if (kind === 'fail') {
    await job.log(`failing on purpose: ${job.data.message ?? 'failed on purpose'}`)
    throw new Error(job.data.message ?? 'failed on purpose')
  }
  return { ok: true, tookMs: ms }
}
