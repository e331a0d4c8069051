import { ErrorCodes, RedkitError } from 'redkit'
import { SEED_PRODUCTS, SEED_USERS } from './db.js'

/**
 * `redkit demo --load`: traffic on every scenario of a running service, over its HTTP API, so the
 * dashboard shows something real: user lookups (some for ids that do not exist), page views,
 * scores, rate-limited calls, device heartbeats (a few devices fall silent and come back),
 * reservations (confirmed, cancelled or left to lapse), jobs (some fail, some are slow), user
 * updates and chat messages.
 */
export interface LoadOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string
  /** Scenario steps per second (a step is one request, or a few: a reservation and its confirm, a burst). @defaultValue 20 */
  rate?: number
  /** Random source (tests pass a seeded one). @defaultValue Math.random */
  random?: () => number
}

export interface LoadStats {
  requests: number
  /** Answers by status class: `2xx`, `4xx` (404 for unknown users, 409 out of stock, 429 limited), `5xx`. */
  byStatus: Record<string, number>
  /** Requests that got no answer (connection refused, reset). */
  errors: number
  /** Requests per scenario. */
  byScenario: Record<string, number>
  startedAt: number
}

type Step = (call: Caller) => Promise<unknown>
type Caller = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: unknown }>

const DEVICES = 12
const PLAYERS = ['ann', 'bob', 'cy', 'dana', 'eve', 'finn', 'gus', 'hana', 'ivo', 'jun']

export function validateRate(rate: number): number {
  if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `--rate must be a number of requests per second between 0 and 10000, got ${rate}`)
  }
  return rate
}

export class LoadGenerator {
  readonly stats: LoadStats = { requests: 0, byStatus: {}, errors: 0, byScenario: {}, startedAt: Date.now() }
  readonly rate: number
  readonly #base: string
  readonly #random: () => number
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #silent = new Set<number>()
  #timer: NodeJS.Timeout | undefined
  #credit = 0
  #tick = 0

  constructor(options: LoadOptions) {
    this.rate = validateRate(options.rate ?? 20)
    this.#base = options.baseUrl.replace(/\/$/, '')
    this.#random = options.random ?? Math.random
  }

  start(): void {
    if (this.#timer) return
    this.stats.startedAt = Date.now()
    const tickMs = 100
    this.#timer = setInterval(() => {
      this.#tick++
      this.#credit += (this.rate * tickMs) / 1000
      // Never more than a second's worth in flight: a slow service slows the load, not the other way round.
      while (this.#credit >= 1 && this.#inflight.size < Math.max(10, this.rate)) {
        this.#credit--
        this.#launch(this.#pick())
      }
      if (this.#credit > this.rate) this.#credit = this.rate
      // Every 5 s one device falls silent (it goes offline after its TTL) and another comes back.
      if (this.#tick % 50 === 0) {
        const device = this.#int(DEVICES)
        if (this.#silent.has(device)) this.#silent.delete(device)
        else this.#silent.add(device)
      }
    }, tickMs)
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await Promise.allSettled([...this.#inflight])
  }

  /** One line: requests, rate, answers by status class, errors. */
  progress(now = Date.now()): string {
    const seconds = Math.max(0.001, (now - this.stats.startedAt) / 1000)
    const statuses = Object.entries(this.stats.byStatus)
      .sort()
      .map(([status, n]) => `${status} ${n}`)
      .join(', ')
    return `load: ${this.stats.requests} requests in ${seconds.toFixed(0)} s (${(this.stats.requests / seconds).toFixed(1)}/s; ${this.rate} steps/s)${statuses ? `, ${statuses}` : ''}, errors ${this.stats.errors}`
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n)
  }

  #pick(): [string, Step] {
    const steps: Array<[string, number, Step]> = [
      ['users', 30, (call) => call('GET', `/api/users/${1 + this.#int(SEED_USERS + 20)}`)],
      [
        'page-views',
        20,
        (call) => call('POST', `/api/pages/${['home', 'pricing', 'docs'][this.#int(3)]}/view`, { visitor: `v${this.#int(500)}` }),
      ],
      ['leaderboard', 8, (call) => call('POST', `/api/leaderboard/${PLAYERS[this.#int(PLAYERS.length)]}/score`, { by: 1 + this.#int(20) })],
      [
        'rate-limit',
        8,
        // Bursts of three from one of two clients: past 10 per 10 s some are denied (429).
        async (call) => {
          const headers = { 'x-client-id': `load-${this.#int(2)}` }
          for (let i = 0; i < 3; i++) await call('GET', '/api/limited', undefined, headers)
        },
      ],
      [
        'devices',
        12,
        async (call) => {
          const device = this.#int(DEVICES)
          if (!this.#silent.has(device)) await call('POST', `/api/devices/load-device-${device}/heartbeat`)
        },
      ],
      ['inventory', 8, (call) => this.#reservation(call)],
      ['jobs', 10, (call) => this.#job(call)],
      ['user-updates', 2, (call) => call('PUT', `/api/users/${1 + this.#int(SEED_USERS)}`, { name: `Load User ${this.#int(1000)}` })],
      ['chat', 2, (call) => call('POST', '/api/chat/lobby', { from: 'load', text: `hello #${this.stats.requests}` })],
    ]
    const total = steps.reduce((sum, [, weight]) => sum + weight, 0)
    let at = this.#random() * total
    for (const [name, weight, step] of steps) {
      at -= weight
      if (at < 0) return [name, step]
    }
    const [name, , step] = steps[0] as [string, number, Step]
    return [name, step]
  }

  async #reservation(call: Caller): Promise<void> {
    const product = SEED_PRODUCTS[this.#int(SEED_PRODUCTS.length)]?.id as string
    const reserved = await call('POST', `/api/inventory/${product}/reserve`, { qty: 1, user: `shopper-${this.#int(100)}` })
    // Sold out: the shop restocks, except the webcam, which stays sold out to show a 409.
    if (reserved.status === 409 && product !== 'webcam') await call('POST', `/api/inventory/${product}/restock`, { units: 10 })
    if (reserved.status !== 201) return
    const id = (reserved.body as { reservation: { id: string } }).reservation.id
    const choice = this.#random()
    // Half are bought, a quarter given back, a quarter left to lapse (their units return by themselves).
    if (choice < 0.5) await call('POST', `/api/inventory/${product}/confirm`, { id })
    else if (choice < 0.75) await call('POST', `/api/inventory/${product}/cancel`, { id })
  }

  #job(call: Caller): Promise<unknown> {
    const choice = this.#random()
    if (choice < 0.15)
      return call('POST', '/api/jobs', { kind: 'fail', ms: 50, attempts: 2, backoffMs: 500, message: 'failed on purpose (load)' })
    if (choice < 0.25) return call('POST', '/api/jobs', { kind: 'slow', ms: 3000 })
    if (choice < 0.35) return call('POST', '/api/jobs', { kind: 'ok', delayMs: 5000, ms: 20 })
    return call('POST', '/api/jobs', { kind: 'ok', ms: 20 + this.#int(200) })
  }

  #launch([name, step]: [string, Step]): void {
    this.stats.byScenario[name] = (this.stats.byScenario[name] ?? 0) + 1
    const call: Caller = async (method, path, body, headers = {}) => {
      this.stats.requests++
      try {
        const response = await fetch(`${this.#base}${path}`, {
          method,
          headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
          body: body === undefined ? null : JSON.stringify(body),
        })
        const text = await response.text()
        const status = `${Math.floor(response.status / 100)}xx`
        this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1
        return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined }
      } catch (error) {
        // Requests cut by a stop (the service shutting down) are not the service's failures.
        if (this.#timer) this.stats.errors++
        throw error
      }
    }
    const running = step(call)
      .catch(() => {})
      .finally(() => this.#inflight.delete(running))
    this.#inflight.add(running)
  }
}
