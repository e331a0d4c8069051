import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../packages/server/src/index.js'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/redkit.js'
import { eventually } from '../support/wait.js'

// This file stops and kills its Redis on purpose, so it runs its own server (never the shared one, never 6379).
const PASSWORD = 'health-secret-7f3a'

describe('service app (/health, /metrics)', () => {
  let server: RedisProcess
  let rk: Redkit
  let app: FastifyInstance
  let reconnects = 0

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--requirepass', PASSWORD] })
    rk = await createRedkit({ url: `redis://:${PASSWORD}@${server.host}:${server.port}`, connectTimeoutMs: 2000, maxReconnectDelayMs: 200 })
    rk.on('reconnecting', () => reconnects++)
    app = await buildApp({ rk })
  })

  afterAll(async () => {
    await app?.close()
    await rk?.close()
    await server?.stop()
  })

  it('GET /health answers 200 with the topology and the PING latency', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('no-store')
    const body = response.json()
    expect(body).toEqual({ status: 'ok', redis: { topology: 'standalone', latencyMs: expect.any(Number) } })
    expect(body.redis.latencyMs).toBeGreaterThanOrEqual(0)
    expect(response.body).not.toContain(PASSWORD)
  })

  it('GET /metrics serves Prometheus text with the redkit metrics and default process metrics', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/plain/)
    const text = response.body
    expect(text).toMatch(/^redkit_redis_up 1$/m)
    expect(text).toMatch(/^redkit_redis_ping_seconds_count [1-9]\d*$/m)
    expect(text).toMatch(/^redkit_redis_reconnects_total 0$/m)
    expect(text).toContain('# TYPE redkit_redis_ping_seconds histogram')
    expect(text).toMatch(/^process_cpu_user_seconds_total /m)
    expect(text).not.toContain(PASSWORD)
  })

  it('keeps its own registry: two apps in one process do not clash, and modules can add metrics', async () => {
    const other = await buildApp({ rk, defaultMetrics: false })
    try {
      const { Counter } = await import('prom-client')
      new Counter({ name: 'redkit_test_things_total', help: 'test', registers: [other.metrics.registry] }).inc(3)
      const text = (await other.inject({ method: 'GET', url: '/metrics' })).body
      expect(text).toMatch(/^redkit_test_things_total 3$/m)
      expect(text).toMatch(/^redkit_redis_up 1$/m)
      expect(text).not.toContain('process_cpu_user_seconds_total')
      expect((await app.inject({ method: 'GET', url: '/metrics' })).body).not.toContain('redkit_test_things_total')
    } finally {
      await other.close()
    }
  })

  it('GET /health answers 503 E_TIMEOUT within its bound when Redis is frozen, and 200 again after', async () => {
    server.signal('SIGSTOP')
    try {
      const start = performance.now()
      const response = await app.inject({ method: 'GET', url: '/health' })
      const elapsed = performance.now() - start
      expect(response.statusCode).toBe(503)
      expect(response.json()).toEqual({ status: 'unavailable', error: { code: 'E_TIMEOUT', message: expect.any(String) } })
      expect(elapsed).toBeLessThan(3000)
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
      expect(metrics).toMatch(/^redkit_redis_up 0$/m)
    } finally {
      server.signal('SIGCONT')
    }
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
  })

  it('GET /health answers 503 quickly once Redis is gone, without secrets; reconnects are counted', async () => {
    server.signal('SIGKILL')
    await server.exited
    const start = performance.now()
    const response = await app.inject({ method: 'GET', url: '/health' })
    expect(performance.now() - start).toBeLessThan(3000)
    expect(response.statusCode).toBe(503)
    const body = response.json()
    expect(body.status).toBe('unavailable')
    expect(body.error.code).toMatch(/^E_(CONNECTION|TIMEOUT)$/)
    expect(Object.keys(body)).toEqual(['status', 'error'])
    expect(response.body).not.toContain(PASSWORD)

    await eventually(() => reconnects > 0)
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/^redkit_redis_up 0$/m)
    const counted = Number(/^redkit_redis_reconnects_total (\d+)$/m.exec(metrics)?.[1])
    expect(counted).toBeGreaterThan(0)
    expect(metrics).not.toContain(PASSWORD)
  })
})
