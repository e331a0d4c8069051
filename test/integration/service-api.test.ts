import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp, type DemoDatabase, LoadGenerator, openDatabase, Scenarios } from '../../packages/server/src/index.js'
import { createRedkit, type Redkit } from '../../src/redkit.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// The service's REST API and SSE streams over real Redis (the shared test server, own prefix) and
// an in-memory PGlite demo database. Short TTLs so lapses happen inside the test.
const DEVICE_TTL_MS = 1500
const LAPSE_MS = 1500
const RATE_LIMIT = 3

/** Reads server-sent events from a streaming fetch response. */
class SseReader {
  readonly events: Array<{ event: string; data: unknown }> = []
  readonly #controller = new AbortController()
  readonly done: Promise<void>

  constructor(url: string) {
    this.done = (async () => {
      const response = await fetch(url, { signal: this.#controller.signal })
      if (!response.body) throw new Error('no body')
      const decoder = new TextDecoder()
      let buffer = ''
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true })
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event && data) this.events.push({ event, data: JSON.parse(data) })
          }
        }
      } catch (error) {
        if ((error as Error).name !== 'AbortError') throw error
      }
    })()
    this.done.catch(() => {})
  }

  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON of the API's events, checked by the assertions
  async next(event: string, match: (data: any) => boolean = () => true, timeoutMs = 8000): Promise<any> {
    let found: { data: unknown } | undefined
    await eventually(
      () => {
        found = this.events.find((e) => e.event === event && match(e.data))
        return found !== undefined
      },
      timeoutMs,
      `SSE event '${event}'`,
    )
    return found?.data
  }

  close(): void {
    this.#controller.abort()
  }
}

describe('service REST API', () => {
  let rk: Redkit
  let db: DemoDatabase
  let scenarios: Scenarios
  let app: FastifyInstance
  let base: string

  beforeAll(async () => {
    rk = await createRedkit({ url: standaloneUrl(), prefix: testPrefix() })
    db = await openDatabase()
    scenarios = new Scenarios(rk, db, {
      deviceTtlMs: DEVICE_TTL_MS,
      reservationLapseMs: LAPSE_MS,
      rateLimit: RATE_LIMIT,
      rateWindowMs: 60_000,
    })
    await scenarios.start()
    await scenarios.databaseReady()
    app = await buildApp({ rk, scenarios, defaultMetrics: false, snapshotIntervalMs: 300 })
    await app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  }, 150_000) // creating an in-memory PGlite: 10-70 s at load 15-25

  afterAll(async () => {
    await app?.close()
    await rk?.close()
    await db?.close()
  })

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>) =>
    app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }), ...(headers ? { headers } : {}) })

  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON of the API's answers
  function expectError(response: { statusCode: number; json(): any }, status: number, code: string, message?: RegExp) {
    expect(response.statusCode).toBe(status)
    const body = response.json()
    expect(body.error.code).toBe(code)
    expect(typeof body.error.message).toBe('string')
    if (message) expect(body.error.message).toMatch(message)
  }

  it('answers unknown routes with a JSON 404', async () => {
    expectError(await inject('GET', '/api/nope'), 404, 'E_NOT_FOUND', /GET \/api\/nope/)
  })

  describe('devices', () => {
    it('a heartbeat brings a device online once, and it goes offline after its TTL', async () => {
      const first = await inject('POST', '/api/devices/sensor-1/heartbeat', { firmware: '1.2.3' })
      expect(first.statusCode).toBe(200)
      expect(first.json()).toEqual({ id: 'sensor-1', cameOnline: true, ttlMs: DEVICE_TTL_MS })
      // Measured from the last heartbeat's request (a slow GET below must not eat into the TTL).
      const started = Date.now()
      expect((await inject('POST', '/api/devices/sensor-1/heartbeat')).json().cameOnline).toBe(false)
      const list = (await inject('GET', '/api/devices')).json()
      expect(list.online.map((d: { id: string }) => d.id)).toContain('sensor-1')
      await eventually(
        async () => (await inject('GET', '/api/devices')).json().offline.some((d: { id: string }) => d.id === 'sensor-1'),
        DEVICE_TTL_MS + 8000,
        'sensor-1 offline',
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(DEVICE_TTL_MS - 200)
      expect((await inject('GET', '/api/devices')).json().online.map((d: { id: string }) => d.id)).not.toContain('sensor-1')
    })

    it('refuses bad ids and unknown body fields with 400', async () => {
      expectError(await inject('POST', '/api/devices/bad%20id/heartbeat'), 400, 'E_VALIDATION', /params\/id/)
      expectError(await inject('POST', '/api/devices/ok/heartbeat', { colour: 'red' }), 400, 'E_VALIDATION', /additional/)
      expectError(await inject('POST', '/api/devices/ok/heartbeat', { firmware: { v: 7 } }), 400, 'E_VALIDATION', /firmware/)
    })

    it('the simulator starts, stops and kills devices; stopping an unknown one is 404', async () => {
      expect((await inject('POST', '/api/simulator/devices/sim-1/start')).statusCode).toBe(201)
      expect((await inject('POST', '/api/simulator/devices/sim-1/start')).statusCode).toBe(200)
      let list = (await inject('GET', '/api/devices')).json()
      expect(list.online.map((d: { id: string }) => d.id)).toContain('sim-1')
      expect(list.simulated).toContainEqual(expect.objectContaining({ id: 'sim-1', running: true }))
      // Heartbeats keep it online past its TTL.
      await sleep(DEVICE_TTL_MS + 500)
      expect((await inject('GET', '/api/devices')).json().online.map((d: { id: string }) => d.id)).toContain('sim-1')
      expect((await inject('POST', '/api/simulator/devices/sim-1/stop')).json()).toEqual({ id: 'sim-1', running: false, killed: false })
      list = (await inject('GET', '/api/devices')).json()
      expect(list.simulated).toContainEqual(expect.objectContaining({ id: 'sim-1', running: false }))
      await eventually(
        async () => (await inject('GET', '/api/devices')).json().offline.some((d: { id: string }) => d.id === 'sim-1'),
        DEVICE_TTL_MS + 8000,
        'sim-1 offline',
      )
      expect((await inject('POST', '/api/simulator/devices/sim-1/kill')).statusCode).toBe(200)
      expect((await inject('GET', '/api/devices')).json().simulated.map((d: { id: string }) => d.id)).not.toContain('sim-1')
      expectError(await inject('POST', '/api/simulator/devices/ghost/stop'), 404, 'E_NOT_FOUND')
    })
  })

  describe('inventory', () => {
    const available = async (product: string) =>
      (await inject('GET', '/api/inventory')).json().products.find((p: { id: string }) => p.id === product).available as number

    it('lists the seeded products with their stock', async () => {
      const body = (await inject('GET', '/api/inventory')).json()
      expect(body.lapseMs).toBe(LAPSE_MS)
      expect(body.products.map((p: { id: string }) => p.id).sort()).toEqual(['headset', 'keyboard', 'monitor', 'mouse', 'webcam'])
      expect(body.products.find((p: { id: string }) => p.id === 'monitor')).toMatchObject({ available: 8, initialStock: 8 })
    })

    it('reserve takes units, confirm sells them, cancel returns them; settling twice is 409', async () => {
      const before = await available('mouse')
      const reserved = await inject('POST', '/api/inventory/mouse/reserve', { qty: 3, user: 'ann', id: 'cart-1' })
      expect(reserved.statusCode).toBe(201)
      expect(reserved.json()).toMatchObject({ reservation: { id: 'cart-1', product: 'mouse', qty: 3, user: 'ann' }, available: before - 3 })
      expect((await inject('GET', '/api/inventory')).json().reservations).toContainEqual(expect.objectContaining({ id: 'cart-1' }))
      const confirmed = await inject('POST', '/api/inventory/mouse/confirm', { id: 'cart-1' })
      expect(confirmed.json()).toMatchObject({ confirmed: true, available: before - 3 })
      expectError(await inject('POST', '/api/inventory/mouse/confirm', { id: 'cart-1' }), 409, 'E_NOT_RESERVED')

      await inject('POST', '/api/inventory/mouse/reserve', { qty: 2, user: 'bob', id: 'cart-2' })
      expect(await available('mouse')).toBe(before - 5)
      expect((await inject('POST', '/api/inventory/mouse/cancel', { id: 'cart-2' })).json()).toMatchObject({
        cancelled: true,
        available: before - 3,
      })
      expectError(await inject('POST', '/api/inventory/mouse/cancel', { id: 'cart-2' }), 409, 'E_NOT_RESERVED')
    })

    it('a reservation that lapses returns its units by itself', async () => {
      const before = await available('keyboard')
      expect((await inject('POST', '/api/inventory/keyboard/reserve', { qty: 4, user: 'cy' })).statusCode).toBe(201)
      expect(await available('keyboard')).toBe(before - 4)
      await eventually(async () => (await available('keyboard')) === before, LAPSE_MS + 8000, 'stock back after the lapse')
    })

    it('refuses more than the stock (409), unknown products (404) and bad input (400), changing nothing', async () => {
      expectError(await inject('POST', '/api/inventory/webcam/reserve', { qty: 1, user: 'ann' }), 409, 'E_OUT_OF_STOCK', /only 0/)
      expectError(await inject('POST', '/api/inventory/toaster/reserve', { qty: 1, user: 'ann' }), 404, 'E_NOT_FOUND')
      const before = await available('headset')
      expectError(await inject('POST', '/api/inventory/headset/reserve', { qty: 0, user: 'ann' }), 400, 'E_VALIDATION', /qty/)
      expectError(await inject('POST', '/api/inventory/headset/reserve', { qty: 1 }), 400, 'E_VALIDATION', /user/)
      expectError(await inject('POST', '/api/inventory/headset/reserve', { qty: 1.5, user: 'ann' }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/inventory/headset/reserve', { qty: 1, user: 'a b' }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/inventory/headset/confirm', {}), 400, 'E_VALIDATION', /id/)
      expect(await available('headset')).toBe(before)
    })
  })

  describe('jobs and queues', () => {
    const stateOf = async (id: string) => (await inject('GET', `/api/jobs/${id}`)).json().state as string

    it('runs a job to completion, and a failing one to the dead letters; retry brings it back', async () => {
      const ok = await inject('POST', '/api/jobs', { kind: 'ok', ms: 10, jobId: 'ok-1' })
      expect(ok.statusCode).toBe(201)
      expect(ok.json()).toEqual({ id: 'ok-1', created: true })
      expect((await inject('POST', '/api/jobs', { kind: 'ok', jobId: 'ok-1' })).statusCode).toBe(200)
      await eventually(async () => (await stateOf('ok-1')) === 'completed', 10_000, 'ok-1 completed')
      expect((await inject('GET', '/api/jobs/ok-1')).json().result).toEqual({ ok: true, tookMs: 10 })

      await inject('POST', '/api/jobs', { kind: 'fail', ms: 10, attempts: 2, backoffMs: 50, message: 'boom', jobId: 'bad-1' })
      await eventually(async () => (await stateOf('bad-1')) === 'dead', 10_000, 'bad-1 dead')
      const dead = (await inject('GET', '/api/jobs/bad-1')).json()
      expect(dead).toMatchObject({ attemptsMade: 2, error: { message: 'boom' } })
      expect(dead.error.stack).toContain('boom')
      const queues = (await inject('GET', '/api/queues')).json()
      expect(queues.counts.dead).toBeGreaterThanOrEqual(1)
      expect(queues.dead).toContainEqual(expect.objectContaining({ id: 'bad-1', error: 'boom' }))
      // The registry lists this service's worker (and would list other processes' workers too).
      expect(queues.workers).toContainEqual(expect.objectContaining({ pid: process.pid, concurrency: 4, here: true }))
      expect((await inject('GET', '/api/jobs?state=dead')).json().jobs.map((j: { id: string }) => j.id)).toContain('bad-1')

      expect((await inject('POST', '/api/jobs/bad-1/retry')).json()).toEqual({ id: 'bad-1', retried: 1 })
      await eventually(async () => (await stateOf('bad-1')) === 'dead', 10_000, 'bad-1 dead again')
      expect((await inject('POST', '/api/queues/jobs/retry-dead')).json().retried).toBeGreaterThanOrEqual(1)
      expectError(await inject('POST', '/api/jobs/ok-1/retry'), 409, 'E_NOT_DEAD')
      expectError(await inject('POST', '/api/jobs/none/retry'), 404, 'E_NOT_FOUND')
      expectError(await inject('GET', '/api/jobs/none'), 404, 'E_NOT_FOUND')
    })

    it('delayed jobs wait and can be removed; pause holds jobs back until resume', async () => {
      await inject('POST', '/api/jobs', { kind: 'ok', delayMs: 60_000, jobId: 'later-1' })
      expect(await stateOf('later-1')).toBe('delayed')
      expect((await inject('GET', '/api/jobs?state=delayed')).json().jobs.map((j: { id: string }) => j.id)).toContain('later-1')
      expect((await inject('DELETE', '/api/jobs/later-1')).json()).toEqual({ id: 'later-1', removed: true })
      // Promote runs a delayed job now; only delayed jobs can be.
      await inject('POST', '/api/jobs', { kind: 'ok', ms: 1, delayMs: 60_000, jobId: 'later-2' })
      expect((await inject('POST', '/api/jobs/later-2/promote')).json()).toEqual({ id: 'later-2', promoted: true })
      await eventually(async () => (await stateOf('later-2')) === 'completed', 10_000, 'later-2 completed after promote')
      expectError(await inject('POST', '/api/jobs/later-2/promote'), 409, 'E_NOT_DELAYED', /completed/)
      expectError(await inject('POST', '/api/jobs/nope-9/promote'), 404, 'E_NOT_FOUND')
      expectError(await inject('POST', '/api/jobs/bad%20id/promote'), 400, 'E_VALIDATION')
      // The demo worker logs what it did; the log is read back by id.
      const logs = (await inject('GET', '/api/jobs/later-2/logs')).json()
      expect(logs).toEqual({ id: 'later-2', count: 1, logs: ['attempt 1: ok job, 1 ms'] })
      expect((await inject('GET', '/api/jobs/later-2/logs?offset=1&limit=5')).json().logs).toEqual([])
      expectError(await inject('GET', '/api/jobs/later-2/logs?limit=0'), 400, 'E_VALIDATION', /limit/)
      expectError(await inject('GET', '/api/jobs/later-2/logs?colour=red'), 400, 'E_VALIDATION')
      expectError(await inject('GET', '/api/jobs/nope-9/logs'), 404, 'E_NOT_FOUND')
      expectError(await inject('DELETE', '/api/jobs/ok-1'), 409, 'E_JOB_STARTED')

      expect((await inject('POST', '/api/queues/jobs/pause')).json()).toEqual({ paused: true })
      await inject('POST', '/api/jobs', { kind: 'ok', ms: 1, jobId: 'held-1' })
      await sleep(1500)
      expect(await stateOf('held-1')).toBe('waiting')
      expect((await inject('GET', '/api/queues')).json().paused).toBe(true)
      await inject('POST', '/api/queues/jobs/resume')
      await eventually(async () => (await stateOf('held-1')) === 'completed', 10_000, 'held-1 completed after resume')
    })

    it('creates, lists and cancels repeating schedules', async () => {
      const created = await inject('POST', '/api/schedules', { id: 'tick', kind: 'ok', everyMs: 60_000 })
      expect(created.statusCode).toBe(201)
      expect(created.json().nextRunAt).toBeGreaterThan(Date.now() - 1000)
      const list = (await inject('GET', '/api/schedules')).json().schedules
      expect(list).toContainEqual(expect.objectContaining({ id: 'tick', everyMs: 60_000 }))
      expect((await inject('DELETE', '/api/schedules/tick')).json()).toEqual({ id: 'tick', cancelled: true })
      expectError(await inject('DELETE', '/api/schedules/tick'), 404, 'E_NOT_FOUND')
      expectError(await inject('POST', '/api/schedules', { id: 'x', kind: 'ok' }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/schedules', { id: 'x', kind: 'ok', cron: 'not a cron' }), 400, 'E_INVALID_ARGUMENT')
    })

    it('refuses bad jobs with 400 and stores nothing', async () => {
      const before = (await inject('GET', '/api/queues')).json().counts
      expectError(await inject('POST', '/api/jobs', { kind: 'explode' }), 400, 'E_VALIDATION', /kind/)
      expectError(await inject('POST', '/api/jobs', { kind: 'ok', attempts: 0 }), 400, 'E_VALIDATION', /attempts/)
      expectError(await inject('POST', '/api/jobs', { kind: 'ok', delayMs: -1 }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/jobs', { kind: 'ok', jobId: 'a:b' }), 400, 'E_VALIDATION', /jobId/)
      expectError(await inject('GET', '/api/jobs?state=lost'), 400, 'E_VALIDATION', /state/)
      expect((await inject('GET', '/api/queues')).json().counts).toEqual(before)
    })
  })

  describe('users (cache-aside over the demo database)', () => {
    it('serves a user from the database once, then from the cache', async () => {
      const first = await inject('GET', '/api/users/7')
      expect(first.statusCode).toBe(200)
      expect(first.json()).toMatchObject({ id: 7, name: expect.any(String), email: expect.stringContaining('@') })
      const reads = db.reads
      for (let i = 0; i < 5; i++) expect((await inject('GET', '/api/users/7')).json()).toEqual(first.json())
      expect(db.reads).toBe(reads)
    })

    it('PUT writes the database and invalidates the cached entry', async () => {
      await inject('GET', '/api/users/8')
      const updated = await inject('PUT', '/api/users/8', { name: 'Renamed Person' })
      expect(updated.statusCode).toBe(200)
      expect(updated.json().name).toBe('Renamed Person')
      expect((await inject('GET', '/api/users/8')).json().name).toBe('Renamed Person')
      expect((await db.getUser(8))?.name).toBe('Renamed Person')
    })

    it('an id that does not exist is 404 without a database read (Bloom guard)', async () => {
      const reads = db.reads
      expectError(await inject('GET', '/api/users/999999'), 404, 'E_NOT_FOUND')
      expectError(await inject('GET', '/api/users/999999'), 404, 'E_NOT_FOUND')
      expect(db.reads).toBe(reads)
    })

    it('refuses bad ids and bodies with 400 and leaves the user unchanged', async () => {
      const before = await db.getUser(9)
      expectError(await inject('GET', '/api/users/abc'), 400, 'E_VALIDATION', /params\/id/)
      expectError(await inject('GET', '/api/users/0'), 400, 'E_VALIDATION')
      expectError(await inject('PUT', '/api/users/9', {}), 400, 'E_VALIDATION')
      expectError(await inject('PUT', '/api/users/9', { email: 'not-an-email' }), 400, 'E_VALIDATION', /email/)
      expectError(await inject('PUT', '/api/users/9', { name: 'x', admin: true }), 400, 'E_VALIDATION')
      expectError(await inject('PUT', '/api/users/999999', { name: 'x' }), 404, 'E_NOT_FOUND')
      expect(await db.getUser(9)).toEqual(before)
      const cache = (await inject('GET', '/api/dashboard')).json().cache
      expect(cache.stats.hits).toBeGreaterThan(0)
      expect(cache.hitRatio).toBeGreaterThan(0)
    })
  })

  describe('page views, leaderboard, rate limit', () => {
    it('counts page views per minute and unique visitors', async () => {
      for (const visitor of ['v1', 'v2', 'v2', 'v3']) {
        expect((await inject('POST', '/api/pages/home/view', { visitor })).statusCode).toBe(202)
      }
      const body = (await inject('GET', '/api/stats/page-views?minutes=5')).json()
      expect(body.buckets).toHaveLength(5)
      expect(body.buckets.reduce((sum: number, b: { value: number }) => sum + b.value, 0)).toBe(4)
      expect(body.uniqueVisitorsLastHour).toBe(3)
      expectError(await inject('GET', '/api/stats/page-views?minutes=0'), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/pages/home/view', {}), 400, 'E_VALIDATION', /visitor/)
    })

    it('keeps a leaderboard: score updates, top, rank and around', async () => {
      expect((await inject('POST', '/api/leaderboard/ann/score', { by: 50 })).json()).toEqual({ player: 'ann', score: 50, rank: 1 })
      await inject('POST', '/api/leaderboard/bob/score', { by: 70 })
      await inject('POST', '/api/leaderboard/cy/score', { by: 10 })
      expect((await inject('POST', '/api/leaderboard/ann/score', { by: 30 })).json()).toEqual({ player: 'ann', score: 80, rank: 1 })
      const top = (await inject('GET', '/api/leaderboard?n=2')).json()
      expect(top).toEqual({
        top: [expect.objectContaining({ member: 'ann', score: 80, rank: 1 }), expect.objectContaining({ member: 'bob', rank: 2 })],
        size: 3,
      })
      const bob = (await inject('GET', '/api/leaderboard/bob?n=1')).json()
      expect(bob).toMatchObject({ member: 'bob', rank: 2, score: 70 })
      expect(bob.around.map((e: { member: string }) => e.member)).toEqual(['ann', 'bob', 'cy'])
      expectError(await inject('GET', '/api/leaderboard/nobody'), 404, 'E_NOT_FOUND')
      expectError(await inject('POST', '/api/leaderboard/ann/score', { by: 1.5 }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/leaderboard/ann/score', { by: 'ten' }), 400, 'E_VALIDATION')
      expect((await inject('GET', '/api/leaderboard/ann')).json().score).toBe(80)
    })

    it('allows the limit, then answers 429 with Retry-After; other clients are not affected', async () => {
      const headers = { 'x-client-id': 'greedy' }
      for (let i = 0; i < RATE_LIMIT; i++) {
        const ok = await inject('GET', '/api/limited', undefined, headers)
        expect(ok.statusCode).toBe(200)
        expect(ok.headers.ratelimit).toBeDefined()
      }
      const denied = await inject('GET', '/api/limited', undefined, headers)
      expect(denied.statusCode).toBe(429)
      expect(Number(denied.headers['retry-after'])).toBeGreaterThan(0)
      expect((await inject('GET', '/api/limited', undefined, { 'x-client-id': 'polite' })).statusCode).toBe(200)
      const decisions = (await inject('GET', '/api/dashboard')).json().rateLimit
      expect(decisions.allowed).toBeGreaterThanOrEqual(RATE_LIMIT + 1)
      expect(decisions.denied).toBeGreaterThanOrEqual(1)
    })
  })

  describe('sessions', () => {
    it('logs in per device, lists the devices, logs out one and then everywhere', async () => {
      const login = async (device: string) => {
        const response = await inject('POST', '/api/sessions', { user: 'dana', device })
        expect(response.statusCode).toBe(201)
        return response.json().token as string
      }
      const laptop = await login('laptop')
      const phone = await login('phone')
      const tablet = await login('tablet')
      const auth = (token: string) => ({ authorization: `Bearer ${token}` })
      const list = (await inject('GET', '/api/sessions', undefined, auth(laptop))).json()
      expect(list.user).toBe('dana')
      expect(list.sessions).toHaveLength(3)
      expect(list.sessions.map((s: { handle: string }) => s.handle)).toContain(list.current)
      expect(JSON.stringify(list)).not.toContain(phone)

      expect((await inject('DELETE', '/api/sessions/current', undefined, auth(tablet))).json()).toEqual({ ended: 1 })
      expectError(await inject('GET', '/api/sessions', undefined, auth(tablet)), 401, 'E_UNAUTHORIZED')
      expect((await inject('DELETE', '/api/sessions', undefined, auth(phone))).json()).toEqual({ ended: 2 })
      expectError(await inject('GET', '/api/sessions', undefined, auth(laptop)), 401, 'E_UNAUTHORIZED')
    })

    it('refuses missing or malformed tokens and bad logins', async () => {
      expectError(await inject('GET', '/api/sessions'), 401, 'E_UNAUTHORIZED')
      expectError(await inject('GET', '/api/sessions', undefined, { authorization: 'Bearer not-a-real-token' }), 401, 'E_UNAUTHORIZED')
      expectError(await inject('DELETE', '/api/sessions', undefined, { authorization: 'Basic abc' }), 401, 'E_UNAUTHORIZED')
      expectError(await inject('POST', '/api/sessions', { user: 'dana' }), 400, 'E_VALIDATION', /device/)
    })
  })

  describe('locks', () => {
    type LockView = { name: string; holder: { id: string; token: number } | null; waiters: Array<{ id: string }> }
    const lockOf = async (name: string) => ((await inject('GET', '/api/locks')).json().locks as LockView[]).find((l) => l.name === name)

    it('a second task waits in line behind the holder, then holds with a larger fencing token', async () => {
      const first = await inject('POST', '/api/locks/report/hold', { ms: 1000 })
      expect(first.statusCode).toBe(202)
      await eventually(async () => (await lockOf('report'))?.holder?.id === first.json().id, 5000, 'first holds')
      const second = await inject('POST', '/api/locks/report/hold', { ms: 100 })
      await eventually(async () => (await lockOf('report'))?.waiters.some((w) => w.id === second.json().id) ?? false, 5000, 'second waits')
      const firstToken = (await lockOf('report'))?.holder?.token as number
      await eventually(async () => (await lockOf('report'))?.holder?.id === second.json().id, 8000, 'second holds')
      expect((await lockOf('report'))?.holder?.token).toBeGreaterThan(firstToken)
      await eventually(async () => (await lockOf('report')) === undefined, 8000, 'lock free')
    })

    it('a waiter gives up after its timeout; bad input is 400', async () => {
      await inject('POST', '/api/locks/busy/hold', { ms: 1500 })
      await eventually(async () => (await lockOf('busy'))?.holder !== null && (await lockOf('busy')) !== undefined, 5000, 'busy held')
      const impatient = (await inject('POST', '/api/locks/busy/hold', { ms: 10, timeoutMs: 100 })).json()
      await eventually(async () => !(await lockOf('busy'))?.waiters.some((w) => w.id === impatient.id), 5000, 'waiter gave up')
      expect((await lockOf('busy'))?.holder?.id).not.toBe(impatient.id)
      expectError(await inject('POST', '/api/locks/busy/hold', { ms: 0 }), 400, 'E_VALIDATION', /ms/)
      expectError(await inject('POST', '/api/locks/bad%20name/hold', { ms: 10 }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/locks/busy/hold', { ms: 10, forever: true }), 400, 'E_VALIDATION')
      await eventually(async () => (await lockOf('busy')) === undefined, 8000, 'busy free')
    })
  })

  describe('/metrics', () => {
    it('exports the scenarios: cache, queue, expiry lateness, presence, stock, sessions, rate limit', async () => {
      await inject('GET', '/api/users/20')
      await inject('GET', '/api/users/20')
      // Concurrent lookups of a cold user share one database read (single flight): coalesced misses.
      await Promise.all(Array.from({ length: 5 }, () => inject('GET', '/api/users/21')))
      const text = (await inject('GET', '/metrics')).body
      const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1])
      expect(value(/^redkit_cache_requests_total\{cache="users",result="hit",layer="(?:near|redis)"\} (\d+)$/m)).toBeGreaterThan(0)
      expect(value(/^redkit_cache_requests_total\{cache="users",result="miss",layer="redis"\} (\d+)$/m)).toBeGreaterThan(0)
      expect(value(/^redkit_cache_loads_total\{cache="users",outcome="ok"\} (\d+)$/m)).toBeGreaterThan(0)
      expect(value(/^redkit_cache_coalesced_total\{cache="users"\} (\d+)$/m)).toBeGreaterThan(0)
      const ratio = value(/^redkit_cache_hit_ratio\{cache="users"\} ([\d.]+)$/m)
      expect(ratio).toBeGreaterThan(0)
      expect(ratio).toBeLessThanOrEqual(1)
      const counts = (await inject('GET', '/api/queues')).json().counts
      expect(value(/^redkit_queue_jobs\{queue="jobs",state="dead"\} (\d+)$/m)).toBe(counts.dead)
      expect(value(/^redkit_queue_jobs\{queue="jobs",state="completed"\} (\d+)$/m)).toBe(counts.completed)
      expect(value(/^redkit_queue_jobs_processed_total\{queue="jobs",outcome="dead"\} (\d+)$/m)).toBeGreaterThanOrEqual(2)
      expect(value(/^redkit_queue_jobs_processed_total\{queue="jobs",outcome="completed"\} (\d+)$/m)).toBeGreaterThanOrEqual(2)
      expect(value(/^redkit_expiry_lateness_seconds_count\{mode="reliable"\} (\d+)$/m)).toBeGreaterThan(0)
      expect(text).toMatch(/^redkit_presence_online\{presence="devices"\} \d+$/m)
      expect(value(/^redkit_inventory_available\{inventory="shop",product="monitor"\} (\d+)$/m)).toBe(8)
      expect(value(/^redkit_session_events_total\{event="login"\} (\d+)$/m)).toBe(3)
      expect(value(/^redkit_session_events_total\{event="logout"\} (\d+)$/m)).toBe(3)
      expect(value(/^redkit_rate_limit_decisions_total\{limiter="api",decision="denied"\} (\d+)$/m)).toBeGreaterThanOrEqual(1)
      expect(value(/^redkit_rate_limit_decisions_total\{limiter="api",decision="allowed"\} (\d+)$/m)).toBeGreaterThanOrEqual(RATE_LIMIT)
      expect(value(/^redkit_lock_wait_seconds_count\{outcome="acquired"\} (\d+)$/m)).toBe(3)
      expect(value(/^redkit_lock_wait_seconds_count\{outcome="timeout"\} (\d+)$/m)).toBe(1)
    })
  })

  describe('npm start: scripts/ensure-redis.mjs --service', () => {
    const ensure = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['scripts/ensure-redis.mjs', '--service'], {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        env: { ...process.env, ...env },
        encoding: 'utf8',
      })

    it('does nothing when REDIS_URL is set, even without redis-server', () => {
      const result = ensure({ REDIS_URL: 'redis://127.0.0.1:1', REDKIT_REDIS_SERVER: '/nonexistent/redis-server' })
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
    })

    it('is silent when redis-server is installed (redis-cli is not needed by the service)', () => {
      const result = ensure({ REDIS_URL: '', REDKIT_REDIS_CLI: '/nonexistent/redis-cli' })
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
    })
  })

  describe('load generator (redkit demo --load)', () => {
    it('drives every scenario with no server error and no failed request', async () => {
      const load = new LoadGenerator({ baseUrl: base, rate: 200 })
      load.start()
      await eventually(() => Object.keys(load.stats.byScenario).length >= 9, 15_000, 'every scenario loaded')
      await load.stop()
      expect(load.stats.errors).toBe(0)
      expect(load.stats.byStatus['5xx']).toBeUndefined()
      expect(load.stats.byStatus['2xx']).toBeGreaterThan(0)
      expect(load.progress()).toMatch(/^load: \d+ requests in \d+ s \([\d.]+\/s; 200 steps\/s\), 2xx \d+/)
      expect(() => new LoadGenerator({ baseUrl: base, rate: 0 })).toThrow(/--rate/)
    })

    it('`redkit demo --load --rate N --duration S --url URL` prints progress and a summary, then exits 0', async () => {
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--load', '--rate', '30', '--duration', '2', '--url', base],
          {
            cwd: fileURLToPath(new URL('../../', import.meta.url)),
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
        let stdout = ''
        let stderr = ''
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk
        })
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk
        })
        const timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`demo did not finish\n${stdout}\n${stderr}`))
        }, 30_000)
        child.once('close', (code) => {
          clearTimeout(timer)
          resolve({ code, stdout, stderr })
        })
      })
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`load: 30 steps/s on every scenario of ${base} for 2 s`)
      expect(result.stdout).toMatch(/^load: \d+ requests in 2 s/m)
      expect(result.stdout).toMatch(/^load: by scenario .*users \d+/m)
    })

    it('restock adds units; bad units are 400', async () => {
      const before = (await inject('GET', '/api/inventory')).json().products.find((p: { id: string }) => p.id === 'headset').available
      expect((await inject('POST', '/api/inventory/headset/restock', { units: 5 })).json()).toEqual({
        product: 'headset',
        available: before + 5,
      })
      expectError(await inject('POST', '/api/inventory/headset/restock', { units: 0 }), 400, 'E_VALIDATION')
      expectError(await inject('POST', '/api/inventory/nothing/restock', { units: 1 }), 404, 'E_NOT_FOUND')
    })
  })

  describe('live streams (SSE)', () => {
    it('chat: a message posted to a room reaches the room stream', async () => {
      const reader = new SseReader(`${base}/api/chat/lobby`)
      try {
        await reader.next('joined')
        const posted = await inject('POST', '/api/chat/lobby', { from: 'ann', text: 'hello <b>world</b>' })
        expect(posted.statusCode).toBe(202)
        expect(posted.json().receivers).toBeGreaterThanOrEqual(1)
        expect(await reader.next('message')).toMatchObject({ from: 'ann', text: 'hello <b>world</b>' })
        expectError(await inject('POST', '/api/chat/lobby', { from: 'ann', text: '' }), 400, 'E_VALIDATION')
        expectError(await inject('POST', '/api/chat/bad%20room', { from: 'ann', text: 'x' }), 400, 'E_VALIDATION')
      } finally {
        reader.close()
      }
    })

    it('events: snapshots of the dashboard and events as they happen', async () => {
      const reader = new SseReader(`${base}/api/events`)
      try {
        const snapshot = await reader.next('snapshot')
        expect(Object.keys(snapshot).sort()).toEqual(
          [
            'at',
            'cache',
            'database',
            'devices',
            'expirations',
            'inventory',
            'leaderboard',
            'locks',
            'pageViews',
            'queues',
            'rateLimit',
          ].sort(),
        )
        await inject('POST', '/api/devices/live-1/heartbeat')
        expect((await reader.next('device', (e) => e.data.id === 'live-1')).data.online).toBe(true)
        await reader.next('snapshot', (s) => s.devices.online.some((d: { id: string }) => d.id === 'live-1'))
        await inject('POST', '/api/jobs', { kind: 'fail', ms: 1, attempts: 1, jobId: 'live-bad' })
        await reader.next('job', (e) => e.data.id === 'live-bad' && e.data.state === 'dead')
        // Expiry events with their lateness (live-1's heartbeat lapses).
        const expiry = await reader.next('expiration', (e) => String(e.data.key).includes('live-1'), DEVICE_TTL_MS + 8000)
        expect(expiry.data.lateMs).toBeGreaterThanOrEqual(0)
        const lateness = (await inject('GET', '/api/dashboard')).json().expirations
        expect(lateness.count).toBeGreaterThan(0)
        expect(lateness.p99).toBeGreaterThanOrEqual(lateness.p50)
      } finally {
        reader.close()
      }
    })

    it('closing the app ends open streams instead of waiting for them', async () => {
      const other = await buildApp({ rk, scenarios: new Scenarios(rk, db, { deviceTtlMs: DEVICE_TTL_MS }), defaultMetrics: false })
      await other.listen({ port: 0, host: '127.0.0.1' })
      const url = `http://127.0.0.1:${(other.server.address() as AddressInfo).port}`
      const reader = new SseReader(`${url}/api/chat/lobby`)
      await reader.next('joined')
      const events = new SseReader(`${url}/api/events`)
      await events.next('snapshot')
      const start = Date.now()
      await other.close()
      expect(Date.now() - start).toBeLessThan(5000)
      await reader.done
      await events.done
    })
  })

  describe('while the demo database opens', () => {
    // The service listens before the database is open (PGlite: seconds, 10-20 s to create under load).
    it('routes on Redis answer at once; routes that need the database are 503 E_DB_OPENING until it is open', async () => {
      let open: (db: DemoDatabase) => void = () => {}
      const opening = new Promise<DemoDatabase>((resolve) => {
        open = resolve
      })
      const early = new Scenarios(rk, opening, { deviceTtlMs: DEVICE_TTL_MS })
      await early.start()
      const other = await buildApp({ rk, scenarios: early, defaultMetrics: false })
      try {
        const health = await other.inject({ method: 'GET', url: '/health' })
        expect(health.statusCode).toBe(200)
        expect(health.json().database).toMatchObject({ state: 'opening', ms: expect.any(Number) })
        expect((await other.inject({ method: 'POST', url: '/api/devices/early-1/heartbeat' })).statusCode).toBe(200)
        expect((await other.inject({ method: 'GET', url: '/api/leaderboard' })).statusCode).toBe(200)
        expect((await other.inject({ method: 'GET', url: '/api/queues' })).statusCode).toBe(200)
        const snapshot = (await other.inject({ method: 'GET', url: '/api/dashboard' })).json()
        expect(snapshot.database.state).toBe('opening')
        for (const [method, url, payload] of [
          ['GET', '/api/users/1', undefined],
          ['PUT', '/api/users/1', { name: 'Early' }],
          ['GET', '/api/inventory', undefined],
          ['POST', '/api/inventory/keyboard/reserve', { qty: 1, user: 'u1' }],
        ] as const) {
          const response = await other.inject({ method, url, ...(payload ? { payload } : {}) })
          expectError(response, 503, 'E_DB_OPENING', /still opening.*retry/)
          expect(response.headers['retry-after']).toBe('1')
        }
        // Bad input is still a 400: validation comes first.
        expectError(await other.inject({ method: 'GET', url: '/api/users/0' }), 400, 'E_VALIDATION')

        open(db)
        await early.databaseReady()
        expect((await other.inject({ method: 'GET', url: '/api/users/1' })).statusCode).toBe(200)
        expect((await other.inject({ method: 'GET', url: '/api/inventory' })).json().products.length).toBeGreaterThan(0)
        expect((await other.inject({ method: 'GET', url: '/health' })).json().database).toMatchObject({ state: 'open' })
      } finally {
        await other.close()
      }
    })

    it('a database that cannot be opened makes those routes 503 E_DB_UNAVAILABLE with the reason; Redis routes go on', async () => {
      const failing = new Scenarios(rk, Promise.reject(new Error('no such database "nowhere"')))
      await failing.start()
      await expect(failing.databaseReady()).rejects.toThrow('nowhere')
      const other = await buildApp({ rk, scenarios: failing, defaultMetrics: false })
      try {
        expectError(
          await other.inject({ method: 'GET', url: '/api/users/1' }),
          503,
          'E_DB_UNAVAILABLE',
          /could not be opened: no such database "nowhere"/,
        )
        const health = await other.inject({ method: 'GET', url: '/health' })
        expect(health.statusCode).toBe(200)
        expect(health.json().database).toMatchObject({ state: 'failed', error: 'no such database "nowhere"' })
        expect((await other.inject({ method: 'GET', url: '/api/leaderboard' })).statusCode).toBe(200)
      } finally {
        await other.close()
      }
    })
  })

  describe('dashboard files', () => {
    let dir: string
    let other: FastifyInstance
    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'redkit-dash-'))
      mkdirSync(path.join(dir, 'assets'))
      writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>redkit dashboard</title>')
      writeFileSync(path.join(dir, 'assets', 'index-Ab12.js'), 'console.log(1)')
      writeFileSync(path.join(dir, 'secret.js'), 'not an asset')
      other = await buildApp({ rk, scenarios: new Scenarios(rk, db), defaultMetrics: false, dashboardDir: dir })
    })
    afterAll(async () => {
      await other?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    it('serves the page at / and its hashed assets, immutable', async () => {
      const page = await other.inject({ method: 'GET', url: '/' })
      expect(page.statusCode).toBe(200)
      expect(page.headers['content-type']).toMatch(/^text\/html/)
      expect(page.body).toContain('redkit dashboard')
      const asset = await other.inject({ method: 'GET', url: '/assets/index-Ab12.js' })
      expect(asset.statusCode).toBe(200)
      expect(asset.headers['content-type']).toMatch(/^text\/javascript/)
      expect(asset.headers['cache-control']).toContain('immutable')
    })

    it('serves nothing outside the build: traversal, unknown types and missing files are refused', async () => {
      for (const url of ['/assets/..%2Fsecret.js', '/assets/%2E%2E%2Fsecret.js', '/assets/.hidden.js']) {
        expect((await other.inject({ method: 'GET', url })).statusCode).toBe(400)
      }
      expect((await other.inject({ method: 'GET', url: '/assets/index-Ab12.exe' })).statusCode).toBe(404)
      expectError(await other.inject({ method: 'GET', url: '/assets/missing.js' }), 404, 'E_NOT_FOUND')
      expectError(await other.inject({ method: 'GET', url: '/secret.js' }), 404, 'E_NOT_FOUND')
    })

    it('says how to build the dashboard when it is not built', async () => {
      const bare = await buildApp({ rk, scenarios: new Scenarios(rk, db), defaultMetrics: false, dashboardDir: path.join(dir, 'nope') })
      try {
        expectError(await bare.inject({ method: 'GET', url: '/' }), 503, 'E_NOT_BUILT', /npm run build/)
      } finally {
        await bare.close()
      }
    })
  })
})
