import type { AddressInfo } from 'node:net'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import express from 'express'
import session from 'express-session'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { RedkitSessionStore, type StoredSessionData } from '../../src/session/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

declare module 'express-session' {
  interface SessionData {
    userId: string
    views: number
  }
}

const SECRET = 'a secret with a minimum length of 32 characters'
let seq = 0

/** A fetch that keeps one cookie jar, like one browser. */
function browser(base: string) {
  let cookie = ''
  return async (path: string, method = 'GET') => {
    const res = await fetch(base + path, { method, headers: cookie ? { cookie } : {} })
    const set = res.headers.get('set-cookie')
    if (set) cookie = set.split(';')[0] as string
    return { status: res.status, body: await res.text() }
  }
}

describe.each(TOPOLOGIES)('RedkitSessionStore on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  const storeKey = (store: string, sid: string) => `${prefix}:{session:${store}:id:${sid}}:s`

  it('serves express-session as its store: login, visits, regenerate, logout, revoke everywhere', async () => {
    const name = `express${++seq}`
    const store = new RedkitSessionStore({ redkit: rk, name, userIdOf: (s) => s.userId as string | undefined })
    const app = express()
    app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }))
    app.post('/login/:user', (req, res) => {
      req.session.regenerate((error) => {
        if (error) return res.status(500).end()
        req.session.userId = req.params.user
        req.session.views = 0
        res.send('ok')
      })
    })
    app.get('/me', (req, res) => {
      if (!req.session.userId) return void res.status(401).end()
      req.session.views = (req.session.views ?? 0) + 1
      res.json({ user: req.session.userId, views: req.session.views })
    })
    app.post('/logout', (req, res) => req.session.destroy(() => res.send('bye')))
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const laptop = browser(base)
      const phone = browser(base)
      expect((await laptop('/me')).status).toBe(401)
      expect((await laptop('/login/ada', 'POST')).status).toBe(200)
      expect(JSON.parse((await laptop('/me')).body)).toEqual({ user: 'ada', views: 1 })
      expect(JSON.parse((await laptop('/me')).body)).toEqual({ user: 'ada', views: 2 })
      await phone('/login/ada', 'POST')
      expect(JSON.parse((await phone('/me')).body)).toEqual({ user: 'ada', views: 1 })
      const listed = await store.listForUser('ada')
      expect(listed).toHaveLength(2)
      const ids = await store.ids()
      expect(listed.map((s) => s.handle).sort()).toEqual(ids.map((id) => store.handleOf(id)).sort())
      const key = storeKey(name, ids[0] as string)
      const ttl = await rk.connection.send<number>(['PTTL', key], { key })
      expect(ttl).toBeGreaterThan(50_000)
      expect(ttl).toBeLessThanOrEqual(60_000)
      // Logging in again regenerates: the old session is gone, the index follows.
      await phone('/login/ada', 'POST')
      expect(await store.listForUser('ada')).toHaveLength(2)
      expect(await store.length()).toBe(2)
      expect(await store.destroyAllForUser('ada')).toBe(2)
      expect((await laptop('/me')).status).toBe(401)
      expect((await phone('/me')).status).toBe(401)
      await laptop('/login/bob', 'POST')
      expect(await store.length()).toBe(1)
      await laptop('/logout', 'POST')
      expect(await store.length()).toBe(0)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('serves @fastify/session as its store', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `fastify${++seq}` })
    const app = Fastify()
    await app.register(fastifyCookie)
    await app.register(fastifySession, { secret: SECRET, store, saveUninitialized: false, cookie: { secure: false, maxAge: 60_000 } })
    app.post('/login', async (req) => {
      req.session.set('userId' as never, 'ada' as never)
      return 'ok'
    })
    app.get('/me', async (req, reply) => {
      const user = req.session.get('userId' as never)
      return user ? { user } : reply.code(401).send()
    })
    app.post('/logout', async (req) => {
      await req.session.destroy()
      return 'bye'
    })
    try {
      const login = await app.inject({ method: 'POST', url: '/login' })
      const cookie = login.cookies.find((c) => c.name === 'sessionId')
      expect(cookie).toBeDefined()
      const cookies = { sessionId: cookie!.value }
      expect((await app.inject({ url: '/me', cookies })).json()).toEqual({ user: 'ada' })
      expect(await store.length()).toBe(1)
      await app.inject({ method: 'POST', url: '/logout', cookies })
      expect((await app.inject({ url: '/me', cookies })).statusCode).toBe(401)
      expect(await store.length()).toBe(0)
    } finally {
      await app.close()
    }
  })

  it('implements get/set/touch/destroy/all/ids/length/clear with callbacks and promises, TTL from the cookie', async () => {
    const name = `api${++seq}`
    const store = new RedkitSessionStore({ redkit: rk, name, ttlMs: 5000 })
    const other = new RedkitSessionStore({ redkit: rk, name: `api${++seq}` })
    await other.set('keepme', { n: 0 })
    const sids = Array.from({ length: 30 }, (_, i) => `sid${i}`)
    await Promise.all(sids.map((sid, i) => store.set(sid, { n: i })))
    expect(await store.get('sid3')).toEqual({ n: 3 })
    const got = await new Promise((resolve, reject) => store.get('sid4', (error, s) => (error ? reject(error) : resolve(s))))
    expect(got).toEqual({ n: 4 })
    expect(await store.get('missing')).toBeNull()
    expect((await store.ids()).sort()).toEqual([...sids].sort())
    expect(await store.length()).toBe(30)
    const all = await store.all()
    expect(all).toHaveLength(30)
    expect(all.find((s) => s.id === 'sid7')).toEqual({ n: 7, id: 'sid7' })
    const ttl = (sid: string) => rk.connection.send<number>(['PTTL', storeKey(name, sid)], { key: storeKey(name, sid) })
    expect(await ttl('sid1')).toBeLessThanOrEqual(5000)
    await store.set('sid1', { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } })
    expect(await ttl('sid1')).toBeGreaterThan(55_000)
    await store.set('sid2', { cookie: { maxAge: 30_000 } })
    expect(await ttl('sid2')).toBeGreaterThan(25_000)
    await store.touch('sid2', { cookie: { maxAge: 90_000 } })
    expect(await ttl('sid2')).toBeGreaterThan(85_000)
    // A cookie that already expired ends the session.
    await store.set('sid5', { cookie: { expires: new Date(Date.now() - 1000) } })
    expect(await store.get('sid5')).toBeNull()
    await new Promise<void>((resolve, reject) => store.destroy('sid6', (error) => (error ? reject(error) : resolve())))
    expect(await store.get('sid6')).toBeNull()
    await store.clear()
    expect(await store.length()).toBe(0)
    expect(await other.get('keepme')).toEqual({ n: 0 })
  })

  it('moves a session between user indexes when its owner changes', async () => {
    const name = `owners${++seq}`
    const store = new RedkitSessionStore({ redkit: rk, name, userIdOf: (s) => s.user as string | undefined })
    const handles = async (user: string) => (await store.listForUser(user)).map((s) => s.handle)
    await store.set('s1', { user: 'ada' })
    await store.set('s1', { user: 'ada', n: 1 })
    expect(await handles('ada')).toEqual([store.handleOf('s1')])
    await store.set('s1', { user: 'bob' })
    expect(await handles('ada')).toEqual([])
    expect(await handles('bob')).toEqual([store.handleOf('s1')])
    await store.set('s1', {})
    expect(await handles('bob')).toEqual([])
    expect(await store.get('s1')).toEqual({})
    // An entry left in a former owner's index (a write that failed half-way) never lets that user's
    // revoke-all end someone else's session.
    await store.set('s2', { user: 'bob' })
    const index = `${prefix}:{session:${name}:user:ada}:ids`
    await rk.connection.send(['ZADD', index, '1', 's2'], { key: index })
    expect(await store.destroyAllForUser('ada')).toBe(0)
    expect(await store.get('s2')).toEqual({ user: 'bob' })
    expect(await rk.connection.send(['ZCARD', index], { key: index })).toBe(0)
  })

  it('treats a stored session it cannot parse as none and reports it; refuses bad input with typed errors', async () => {
    const name = `bad${++seq}`
    const store = new RedkitSessionStore({ redkit: rk, name, maxDataBytes: 500 })
    const errors: string[] = []
    store.on('error', (e) => errors.push(e.code))
    const key = storeKey(name, 'broken')
    await rk.connection.send(['SET', key, '{not json'], { key })
    expect(await store.get('broken')).toBeNull()
    expect(errors).toEqual(['E_DECODE'])
    await store.set('good', { ok: true })
    expect(await errorCode(store.set('bad id!', {}))).toBe('E_INVALID_KEY')
    expect(await errorCode(store.set('good', { big: 'x'.repeat(600) }))).toBe('E_TOO_LARGE')
    const cyclic: StoredSessionData = {}
    cyclic.self = cyclic
    expect(await errorCode(store.set('good', cyclic))).toBe('E_ENCODE')
    const viaCallback = await new Promise<unknown>((resolve) => store.set('{x}', {}, (error) => resolve(error)))
    expect((viaCallback as { code?: string }).code).toBe('E_INVALID_KEY')
    expect(await store.get('good')).toEqual({ ok: true })
    expect(await store.get('bad id!')).toBeNull()
    expect(await errorCode(async () => new RedkitSessionStore({} as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(async () => new RedkitSessionStore({ redkit: rk, ttlMs: 0 }))).toBe('E_INVALID_ARGUMENT')
  })
})

describe('session store and manager with Redis unreachable', () => {
  it('fail fast with E_CONNECTION (callbacks get the error, nothing hangs) and recover', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 1000 })
    rk.on('error', () => {})
    try {
      const store = new RedkitSessionStore({ redkit: rk })
      const sessions = rk.sessions()
      await store.set('sid', { n: 1 })
      const s = await sessions.create('ada', 1)
      proxy.refuse(true)
      proxy.cut()
      await eventually(() => !rk.connection.isReady, 2000, 'connection down')
      const started = Date.now()
      const viaCallback = await new Promise<unknown>((resolve) => store.get('sid', (error) => resolve(error)))
      expect((viaCallback as { code?: string }).code).toBe('E_CONNECTION')
      expect(await errorCode(sessions.get(s.token))).toBe('E_CONNECTION')
      expect(Date.now() - started).toBeLessThan(4000)
      proxy.refuse(false)
      await eventually(() => rk.connection.isReady, 5000, 'reconnected')
      expect(await store.get('sid')).toEqual({ n: 1 })
      expect((await sessions.get(s.token))?.data).toBe(1)
    } finally {
      await rk.close()
      await proxy.close()
    }
  }, 20_000)
})
