import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { rateLimitExpress, rateLimitFastify } from '../../src/stats/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { thrownCode } from '../support/expect.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

type Serve = (rk: Redkit, mount: (app: Harness) => void) => Promise<{ url: string; close: () => Promise<void> }>
interface Harness {
  use(options: Parameters<typeof rateLimitExpress>[0], path?: string): void
}

const expressServer: Serve = async (_rk, mount) => {
  const app = express()
  app.set('trust proxy', false)
  const routes: Array<[string | undefined, ReturnType<typeof rateLimitExpress>]> = []
  mount({ use: (options, path) => routes.push([path, rateLimitExpress(options as never)]) })
  for (const [path, middleware] of routes) path ? app.use(path, middleware) : app.use(middleware)
  app.get('/{*any}', (_req, res) => {
    res.send('ok')
  })
  app.use((error: Error & { code?: string }, _req: unknown, res: express.Response, _next: unknown) => {
    res.status(500).send(error.code ?? 'error')
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const fastifyServer: Serve = async (_rk, mount) => {
  const app = Fastify()
  const hooks: Array<[string | undefined, ReturnType<typeof rateLimitFastify>]> = []
  mount({ use: (options, path) => hooks.push([path, rateLimitFastify(options as never)]) })
  for (const [path, hook] of hooks) {
    if (!path) app.addHook('onRequest', hook as never)
  }
  const scoped = hooks.filter(([path]) => path)
  app.get('/*', { onRequest: [] }, async () => 'ok')
  for (const [path, hook] of scoped) app.get(`${path}/*`, { onRequest: hook as never }, async () => 'ok')
  app.setErrorHandler((error: Error & { code?: string }, _req, reply) => {
    reply.code(500).send(error.code ?? 'error')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() }
}

describe.each([
  ['express', expressServer],
  ['fastify', fastifyServer],
] as const)('rate limit middleware on %s', (_framework, serve) => {
  let rk: Redkit
  beforeAll(async () => {
    rk = await createRedkit({ url: standaloneUrl(), prefix: testPrefix() })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('draft 8 headers by default, 429 with Retry-After when spent', async () => {
    // Sliding window, 1 s buckets: a unit is back when its bucket leaves, 60.001 to 61 s after it was spent (61 in whole seconds).
    const limiter = rk.rateLimiter(`mw8-${_framework}`, { limit: 2, windowMs: 60_000, precisionMs: 1000 })
    const server = await serve(rk, (app) => app.use({ limiter }))
    try {
      const first = await fetch(`${server.url}/a`)
      expect(first.status).toBe(200)
      expect(first.headers.get('ratelimit-policy')).toBe('"2-in-60s";q=2;w=60')
      expect(first.headers.get('ratelimit')).toMatch(/^"2-in-60s";r=1;t=61$/)
      expect((await fetch(`${server.url}/a`)).status).toBe(200)
      const denied = await fetch(`${server.url}/a`)
      expect(denied.status).toBe(429)
      expect(denied.headers.get('ratelimit')).toMatch(/;r=0;/)
      expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(59)
      expect(await denied.json()).toMatchObject({ error: 'Too Many Requests' })
    } finally {
      await server.close()
    }
  })

  it('drafts 6 and 7 as options; skip, keyGenerator and per-route limits', async () => {
    // 1 s buckets: the reset is 10.001 to 11 s, 11 in whole seconds (rounded up).
    const six = rk.rateLimiter(`mw6-${_framework}`, { limit: 1, windowMs: 10_000, precisionMs: 1000 })
    const seven = rk.rateLimiter(`mw7-${_framework}`, { limit: 3, windowMs: 10_000, precisionMs: 1000 })
    const server = await serve(rk, (app) => {
      app.use({ limiter: six, headers: 'draft-6', keyGenerator: (req) => String(req.headers['x-user'] ?? 'anon') }, '/six')
      app.use({ limiter: seven, headers: 'draft-7', skip: (req) => req.headers['x-internal'] === 'yes' }, '/seven')
    })
    try {
      const a = await fetch(`${server.url}/six/x`, { headers: { 'x-user': 'ann' } })
      expect(a.headers.get('ratelimit-limit')).toBe('1')
      expect(a.headers.get('ratelimit-remaining')).toBe('0')
      expect(a.headers.get('ratelimit-reset')).toBe('11')
      expect(a.headers.get('ratelimit-policy')).toBe('1;w=10')
      expect((await fetch(`${server.url}/six/x`, { headers: { 'x-user': 'ann' } })).status).toBe(429)
      expect((await fetch(`${server.url}/six/x`, { headers: { 'x-user': 'ben' } })).status).toBe(200)
      const b = await fetch(`${server.url}/seven/x`)
      expect(b.headers.get('ratelimit')).toBe('limit=3, remaining=2, reset=11')
      for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/seven/x`, { headers: { 'x-internal': 'yes' } })).status).toBe(200)
      expect((await seven.peek('127.0.0.1')).remaining).toBe(2)
      expect((await fetch(`${server.url}/other`)).headers.get('ratelimit')).toBeNull()
    } finally {
      await server.close()
    }
  })

  it('bad keys go to the error handler, not silently through', async () => {
    const limiter = rk.rateLimiter(`mwbad-${_framework}`, { limit: 5, windowMs: 10_000 })
    const server = await serve(rk, (app) => app.use({ limiter, keyGenerator: () => '' }))
    try {
      const response = await fetch(`${server.url}/x`)
      expect(response.status).toBe(500)
      expect(await response.text()).toBe('E_INVALID_KEY')
    } finally {
      await server.close()
    }
  })

  it.each([
    [true, 200],
    [false, 503],
  ] as const)('Redis cut: failOpen %s answers %i at once, and limits again once Redis is back', async (failOpen, status) => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const cut = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 1000, maxReconnectDelayMs: 100 })
    const limiter = cut.rateLimiter(`mwcut-${_framework}-${failOpen}`, { limit: 2, windowMs: 60_000 })
    const errors: string[] = []
    const server = await serve(cut, (app) => app.use({ limiter, failOpen, onError: (error) => errors.push(error.code) }))
    try {
      expect((await fetch(`${server.url}/x`)).status).toBe(200)
      proxy.refuse(true)
      proxy.cut()
      await eventually(() => !cut.connection.isReady, 5000, 'connection seen down')
      const started = performance.now()
      const response = await fetch(`${server.url}/x`)
      expect(response.status).toBe(status)
      expect(performance.now() - started).toBeLessThan(500)
      if (!failOpen) expect(response.headers.get('retry-after')).toBe('1')
      expect(errors).toContain('E_CONNECTION')
      proxy.refuse(false)
      await eventually(() => cut.connection.isReady, 10_000, 'reconnected')
      // The count made before the cut is still there: one left, then over the limit.
      const back = await fetch(`${server.url}/x`)
      expect(back.status).toBe(200)
      expect(back.headers.get('ratelimit')).toMatch(/;r=0;/)
      expect((await fetch(`${server.url}/x`)).status).toBe(429)
      // A key over its limit stays denied from memory through the next outage, whatever failOpen says.
      proxy.refuse(true)
      proxy.cut()
      await eventually(() => !cut.connection.isReady, 5000, 'connection seen down again')
      expect((await fetch(`${server.url}/x`)).status).toBe(429)
    } finally {
      await server.close()
      await cut.close()
      await proxy.close()
    }
  })

  it.each([
    [true, 200],
    [false, 503],
  ] as const)(
    'Redis stalled (proxy paused): failOpen %s answers %i within timeoutMs, and a throwing onError changes nothing',
    async (failOpen, status) => {
      const target = new URL(standaloneUrl())
      const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
      const stalled = await createRedkit({ url: proxy.url, prefix: testPrefix() })
      const limiter = stalled.rateLimiter(`mwstall-${_framework}-${failOpen}`, { limit: 5, windowMs: 60_000 })
      const errors: string[] = []
      const onError = (error: { code: string }) => {
        errors.push(error.code)
        throw new Error('logger failed')
      }
      const server = await serve(stalled, (app) => app.use({ limiter, failOpen, timeoutMs: 300, onError }))
      try {
        expect((await fetch(`${server.url}/x`)).status).toBe(200)
        proxy.pause()
        const started = performance.now()
        const responses = await Promise.all([fetch(`${server.url}/x`), fetch(`${server.url}/y`)])
        const took = performance.now() - started
        expect(responses.map((r) => r.status)).toEqual([status, status])
        expect(took).toBeGreaterThanOrEqual(250)
        expect(took).toBeLessThan(2500)
        expect(errors).toContain('E_TIMEOUT')
      } finally {
        proxy.resume()
        await server.close()
        await stalled.close()
        await proxy.close()
      }
    },
  )

  it('bad option types are refused when the middleware is built', async () => {
    const limiter = rk.rateLimiter(`mwopts-${_framework}`, { limit: 5, windowMs: 60_000 })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const build = (options: never) => (_framework === 'express' ? rateLimitExpress(options) : rateLimitFastify(options))
    for (const bad of [
      { cost: 'abc' },
      { cost: 0 },
      { cost: Number.NaN },
      { skip: 5 },
      { keyGenerator: 'ip' },
      { failOpen: 'no' },
      { onError: 5 },
      { message: 5 },
      { message: circular },
      { policyName: 5 },
      { timeoutMs: 0 },
      { timeoutMs: Number.POSITIVE_INFINITY },
    ])
      expect(
        thrownCode(() => build({ limiter, ...bad } as never)),
        JSON.stringify(Object.keys(bad)),
      ).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => build({ limiter, cost: 2, failOpen: true, timeoutMs: 100, message: 'slow down' } as never))).toBeUndefined()
  })
})
