import type { AddressInfo } from 'node:net'
import express from 'express'
import session from 'express-session'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { RedkitSessionStore, type StoredSessionData } from '../../src/session/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { sleep } from '../support/wait.js'

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

describe.each(TOPOLOGIES)('session revocation on %s', (_topology, options) => {
  let rk: Redkit

  beforeAll(async () => {
    rk = await createRedkit({ ...options(), prefix: testPrefix() })
  })
  afterAll(() => rk?.close())

  it('a request in flight during revoke-all or logout does not bring its session back (express-session)', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `flight${++seq}`, userIdOf: (s) => s.userId as string | undefined })
    const app = express()
    app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }))
    let gate: Promise<void> = Promise.resolve()
    let entered: () => void = () => {}
    app.post('/login', (req, res) => {
      req.session.userId = 'ada'
      req.session.views = 0
      res.send('ok')
    })
    app.get('/slow', async (req, res) => {
      // The session is loaded; the handler is still running when the user logs out everywhere.
      entered()
      await gate
      req.session.views = (req.session.views ?? 0) + 1
      res.send(String(req.session.views))
    })
    app.get('/me', (req, res) => void (req.session.userId ? res.send(req.session.userId) : res.status(401).end()))
    app.post('/logout', (req, res) => req.session.destroy(() => res.send('bye')))
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      for (const end of ['revoke-all', 'logout'] as const) {
        const laptop = browser(base)
        await laptop('/login', 'POST')
        expect((await laptop('/me')).status).toBe(200)
        let open: () => void = () => {}
        gate = new Promise<void>((resolve) => (open = resolve))
        const inside = new Promise<void>((resolve) => (entered = resolve))
        const slow = laptop('/slow')
        await inside
        if (end === 'revoke-all') expect(await store.destroyAllForUser('ada')).toBe(1)
        else expect((await laptop('/logout', 'POST')).status).toBe(200)
        open()
        expect((await slow).status).toBe(200)
        expect(await store.length(), end).toBe(0)
        expect((await laptop('/me')).status, end).toBe(401)
        expect(await store.listForUser('ada')).toEqual([])
      }
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('refuses to save a destroyed id (tombstone lasts its session’s lifetime), and a missing id revoke-all saw', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `tomb${++seq}`, userIdOf: (s) => s.userId as string | undefined })
    const cookie = { maxAge: 120_000 }
    await store.set('s1', { cookie, userId: 'ada' })
    const loaded = await store.get('s1')
    await store.destroy('s1')
    await store.set('s1', loaded!)
    expect(await store.get('s1')).toBeNull()
    // The tombstone takes the session's place (a hash, so a plain SET ... GET refuses it).
    const tomb = `${rk.keys.prefix}:{session:${store.name}:id:s1}:s`
    expect(await rk.connection.send<string>(['TYPE', tomb], { key: tomb })).toBe('hash')
    expect(await store.length()).toBe(0)
    const ttl = await rk.connection.send<number>(['PTTL', tomb], { key: tomb })
    expect(ttl).toBeGreaterThan(100_000)
    expect(ttl).toBeLessThanOrEqual(120_000)
    // A login whose index entry is written but whose session is not yet: revoke-all ends it too.
    const index = `${rk.keys.prefix}:{session:${store.name}:user:ada}:ids`
    await rk.connection.send(['ZADD', index, String(Date.now()), 's2'], { key: index })
    expect(await store.destroyAllForUser('ada')).toBe(0)
    await store.set('s2', { cookie, userId: 'ada' })
    expect(await store.get('s2')).toBeNull()
    // Other ids are untouched.
    await store.set('s3', { cookie, userId: 'ada' })
    expect(await store.get('s3')).toMatchObject({ userId: 'ada' })
  })

  it('a touch, set, destroy or regenerate of a destroyed id never shortens or removes its tombstone (every store kind)', async () => {
    const kinds = {
      plain: {},
      userIdOf: { userIdOf: (s: StoredSessionData) => s.userId as string | undefined },
      absoluteTimeoutMs: { absoluteTimeoutMs: 600_000 },
      both: { absoluteTimeoutMs: 600_000, userIdOf: (s: StoredSessionData) => s.userId as string | undefined },
    }
    const regenerate = (store: RedkitSessionStore, sid: string) =>
      new Promise<void>((resolve, reject) => store.regenerate({ sessionID: sid }, (error) => (error ? reject(error) : resolve())))
    const expired = { expires: new Date(Date.now() - 1000).toISOString() }
    for (const [kind, extra] of Object.entries(kinds)) {
      // A long session (tombstone: its remaining 120 s) and a short one (tombstone: the 60 s least).
      for (const maxAge of [120_000, 2_000]) {
        const store = new RedkitSessionStore({ redkit: rk, name: `order${++seq}`, ...extra })
        const tomb = `${rk.keys.prefix}:{session:${store.name}:id:s1}:s`
        const pttl = () => rk.connection.send<number>(['PTTL', tomb], { key: tomb })
        const life = Math.max(maxAge, 60_000)
        const at = `${kind}, maxAge ${maxAge}`
        await store.set('s1', { cookie: { maxAge }, userId: 'ada' })
        await store.touch('s1', { cookie: { maxAge }, userId: 'ada' })
        await store.destroy('s1')
        const steps: Array<[string, () => Promise<unknown>]> = [
          ['touch, short cookie', () => store.touch('s1', { cookie: { maxAge: 1 }, userId: 'ada' })],
          ['touch, expired cookie', () => store.touch('s1', { cookie: expired, userId: 'ada' })],
          ['touch, long cookie', () => store.touch('s1', { cookie: { maxAge: 3_600_000 }, userId: 'ada' })],
          ['set', () => store.set('s1', { cookie: { maxAge }, userId: 'ada' })],
          ['set, expired cookie', () => store.set('s1', { cookie: expired, userId: 'ada' })],
          ['regenerate', () => regenerate(store, 's1').catch((error: unknown) => errorCode(Promise.reject(error)))],
          ['destroy', () => store.destroy('s1')],
        ]
        for (const order of [steps, [...steps].reverse()]) {
          for (const [step, run] of order) {
            const before = await pttl()
            await run()
            await sleep(5)
            expect(await rk.connection.send<string>(['TYPE', tomb], { key: tomb }), `${at}: after ${step}`).toBe('hash')
            const ttl = await pttl()
            // Never shortened; a touch leaves it as it was.
            expect(ttl, `${at}: after ${step}`).toBeGreaterThan(Math.min(before, life) - 5_000)
            if (step.startsWith('touch')) expect(ttl, `${at}: after ${step}`).toBeLessThanOrEqual(before)
            expect(await store.get('s1'), `${at}: after ${step}`).toBeNull()
          }
        }
        expect(await errorCode(regenerate(store, 's1')), at).toBe('E_INVALID_ARGUMENT')
        expect(await store.length(), at).toBe(0)
      }
    }
  })

  it('revoke-all ends a manager session being rotated again and again', async () => {
    const sessions = rk.sessions({ name: `rot${++seq}` })
    for (let round = 0; round < 25; round++) {
      let token = (await sessions.create('eve', { round })).token
      let stop = false
      const attacker = (async () => {
        while (!stop) {
          const next = await sessions.rotate(token)
          if (!next) return
          token = next.token
        }
      })()
      await sleep(round % 5)
      await sessions.destroyAllForUser('eve')
      stop = true
      await attacker
      expect(await sessions.get(token), `round ${round}`).toBeUndefined()
      expect(await sessions.listForUser('eve')).toEqual([])
    }
    // A rotation after a revoke-all of a session issued later still works.
    const fresh = await sessions.create('eve', {})
    expect(await sessions.rotate(fresh.token)).toBeDefined()
  })

  it('a session regenerated from a revoked one is not kept (express-session regenerate with copied data)', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `regen${++seq}`, userIdOf: (s) => s.userId as string | undefined })
    let next = 0
    store.generate = (req) => {
      req.sessionID = `new${++next}`
      req.session = {}
    }
    const regenerate = (req: { sessionID?: string; session?: unknown }) =>
      new Promise<void>((resolve, reject) => store.regenerate(req, (error) => (error ? reject(error) : resolve())))
    const cookie = { maxAge: 60_000 }
    // Revoke-all between regenerate and the save at the end of the request.
    await store.set('old1', { cookie, userId: 'ada' })
    const req1: { sessionID?: string; session?: unknown } = { sessionID: 'old1', session: await store.get('old1') }
    const copied = req1.session as object
    await regenerate(req1)
    await store.destroyAllForUser('ada')
    Object.assign(req1.session as object, copied)
    await store.set(req1.sessionID!, req1.session as object)
    expect(await store.get(req1.sessionID!)).toBeNull()
    // Revoke-all before regenerate: regenerate is refused.
    await store.set('old2', { cookie, userId: 'ada' })
    const req2 = { sessionID: 'old2', session: await store.get('old2') }
    await store.destroyAllForUser('ada')
    expect(await errorCode(regenerate(req2))).toBe('E_INVALID_ARGUMENT')
    // Without a revoke-all, regenerate works and the new session lives.
    await store.set('old3', { cookie, userId: 'ada' })
    const req3: { sessionID?: string; session?: unknown } = { sessionID: 'old3', session: await store.get('old3') }
    await regenerate(req3)
    Object.assign(req3.session as object, { cookie, userId: 'ada' })
    await store.set(req3.sessionID!, req3.session as object)
    expect(await store.get(req3.sessionID!)).toMatchObject({ userId: 'ada' })
    expect(await store.get('old3')).toBeNull()
  })

  it('lists non-secret handles and ends one device by handle (manager and store)', async () => {
    const sessions = rk.sessions({ name: `handle${++seq}` })
    const a = await sessions.create('ada', {}, { userAgent: 'laptop' })
    const b = await sessions.create('ada', {}, { userAgent: 'phone' })
    const bob = await sessions.create('bob', {})
    const listed = await sessions.listForUser('ada')
    expect(listed).toHaveLength(2)
    for (const info of listed) {
      expect(info).not.toHaveProperty('id')
      expect(JSON.stringify(info)).not.toContain(a.id)
      expect(JSON.stringify(info)).not.toContain(b.id)
    }
    const phone = listed.find((s) => s.userAgent === 'phone')!
    expect(phone.handle).toBe(sessions.handleOf(b.token))
    // Another user's handle ends nothing.
    expect(await sessions.destroyByHandle('bob', phone.handle)).toBe(false)
    expect(await sessions.destroyByHandle('ada', sessions.handleOf(bob.token)!)).toBe(false)
    expect(await sessions.destroyByHandle('ada', phone.handle)).toBe(true)
    expect(await sessions.get(b.token)).toBeUndefined()
    expect(await sessions.get(a.token)).toBeDefined()
    expect(await sessions.get(bob.token)).toBeDefined()
    expect(await errorCode(sessions.destroyByHandle('ada', a.id))).toBe('E_INVALID_ARGUMENT')

    const store = new RedkitSessionStore({ redkit: rk, name: `handles${++seq}`, userIdOf: (s) => s.userId as string | undefined })
    await store.set('sidA', { userId: 'ada' })
    await store.set('sidB', { userId: 'ada' })
    const devices = await store.listForUser('ada')
    expect(JSON.stringify(devices)).not.toMatch(/sidA|sidB/)
    expect(await store.destroyByHandle('ada', store.handleOf('sidB')!)).toBe(true)
    expect(await store.get('sidB')).toBeNull()
    expect(await store.get('sidA')).toEqual({ userId: 'ada' })
  })
})

describe('session eviction check', () => {
  let evicting: RedisProcess
  beforeAll(async () => {
    evicting = await startRedisServer({ args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru'] })
  })
  afterAll(() => evicting?.stop())

  it('warns when maxmemory-policy could evict user indexes, epochs or tombstones', async () => {
    // With and without userIdOf: every store leaves logout tombstones (review 12 finding 8).
    for (const extra of [{ userIdOf: (s: StoredSessionData) => s.userId as string | undefined }, {}]) {
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
      const r = await createRedkit({ url: evicting.url, prefix: 'evict' })
      try {
        new RedkitSessionStore({ redkit: r, ...extra })
        const warning = (await Promise.race([warned, sleep(5000).then(() => new Error('no warning'))])) as Error & { code?: string }
        expect(warning.code, Object.keys(extra).join()).toBe('E_SERVER_CONFIG')
        expect(warning.message).toMatch(/maxmemory-policy.*session user indexes.*tombstones.*noeviction/)
      } finally {
        await r.close()
      }
    }
  })
})
