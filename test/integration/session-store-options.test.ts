import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { RedkitSessionStore } from '../../src/session/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

let seq = 0

describe.each(TOPOLOGIES)('session store options on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  const pttl = (key: string) => rk.connection.send<number>(['PTTL', key], { key })
  const sessionKey = (store: RedkitSessionStore, sid: string) => `${prefix}:{session:${store.name}:id:${sid}}:s`

  it('absoluteTimeoutMs ends a rolling session however active it is', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `abs${++seq}`, absoluteTimeoutMs: 1500 })
    const rolling = { cookie: { maxAge: 60_000 }, n: 1 }
    await store.set('s1', rolling)
    expect(await pttl(sessionKey(store, 's1'))).toBeLessThanOrEqual(1500)
    // Every request touches or saves it with a fresh minute; it still ends at 1.5 s.
    const started = Date.now()
    while (Date.now() - started < 1200) {
      await store.touch('s1', rolling)
      await store.set('s1', rolling)
      // The clock is read before the PTTL (a busy machine may delay this process after the reply).
      const elapsed = Date.now() - started
      expect(await pttl(sessionKey(store, 's1'))).toBeLessThanOrEqual(1500 - elapsed + 50)
      await sleep(100)
    }
    await eventually(async () => (await store.get('s1')) === null, 3000, 'absolute deadline')
    // A save after the deadline does not start it again.
    await store.set('s1', rolling)
    expect(await store.get('s1')).toBeNull()
    expect(await errorCode(async () => new RedkitSessionStore({ redkit: rk, absoluteTimeoutMs: -1 }))).toBe('E_INVALID_ARGUMENT')
  })

  it('absoluteTimeoutMs ends a session that is only touched: saved before the option, or its deadline lost (review 12 finding 6)', async () => {
    const name = `abstouch${++seq}`
    const before = new RedkitSessionStore({ redkit: rk, name })
    const store = new RedkitSessionStore({ redkit: rk, name, absoluteTimeoutMs: 600 })
    const rolling = { cookie: { maxAge: 60_000 }, n: 1 }
    await before.set('old', rolling)
    await store.set('lost', rolling)
    await rk.connection.send(['DEL', `${prefix}:{session:${name}:id:lost}:x`], { key: `${prefix}:{session:${name}:id:lost}:x` })
    // express-session touches an unmodified session on every request, and never saves it.
    const started = Date.now()
    while (Date.now() - started < 1200) {
      await Promise.all([store.touch('old', rolling), store.touch('lost', rolling)])
      await sleep(50)
    }
    await eventually(async () => (await store.get('old')) === null && (await store.get('lost')) === null, 3000, 'absolute deadline')
  })

  it('keeps a user index alive no longer than its sessions (no more persistent index; touch extends it)', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `idx${++seq}`, userIdOf: (s) => s.userId as string | undefined })
    const index = `${prefix}:{session:${store.name}:user:ada}:ids`
    await store.set('s1', { cookie: { maxAge: 30_000 }, userId: 'ada' })
    const first = await pttl(index)
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThanOrEqual(30_000 + 61_000)
    await store.touch('s1', { cookie: { maxAge: 600_000 }, userId: 'ada' })
    expect(await pttl(index)).toBeGreaterThan(600_000)
  })

  it('accepts a numeric userIdOf (ids from SQL): saves, lists and revokes', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `num${++seq}`, userIdOf: (s) => s.uid as number | undefined })
    await store.set('s1', { uid: 42 })
    await store.set('s2', { uid: 42 })
    expect(await store.listForUser(42)).toHaveLength(2)
    expect(await store.listForUser('42')).toHaveLength(2)
    expect(await store.destroyAllForUser(42)).toBe(2)
    expect(await errorCode(store.set('s3', { uid: Number.NaN }))).toBe('E_INVALID_ARGUMENT')
  })

  it('a throwing callback is reported once, never an unhandled rejection, never called twice', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `cb${++seq}` })
    const reported: string[] = []
    store.on('error', (error) => reported.push(error.message))
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      let calls = 0
      const returned = store.set('s1', { n: 1 }, () => {
        calls++
        throw new Error('handler bug')
      })
      await expect(returned).resolves.toBeUndefined()
      await store.get('s1', () => {
        throw new Error('another')
      })
      await sleep(50)
      expect(calls).toBe(1)
      expect(reported).toHaveLength(2)
      expect(reported[0]).toMatch(/handler bug/)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it("connect-redis's disableTTL and ttl as a function", async () => {
    const forever = new RedkitSessionStore({ redkit: rk, name: `nottl${++seq}`, disableTTL: true })
    await forever.set('s1', { cookie: { maxAge: 1000 } })
    expect(await pttl(sessionKey(forever, 's1'))).toBe(-1)
    await forever.touch('s1', { cookie: { maxAge: 1000 } })
    expect(await pttl(sessionKey(forever, 's1'))).toBe(-1)
    const byRole = new RedkitSessionStore({
      redkit: rk,
      name: `fnttl${++seq}`,
      ttlMs: (s) => (s.admin ? 5_000 : 50_000),
    })
    await byRole.set('admin', { admin: true })
    await byRole.set('user', { admin: false })
    expect(await pttl(sessionKey(byRole, 'admin'))).toBeLessThanOrEqual(5_000)
    expect(await pttl(sessionKey(byRole, 'user'))).toBeGreaterThan(40_000)
    const bad = new RedkitSessionStore({ redkit: rk, name: `badttl${++seq}`, ttlMs: () => Number.NaN })
    expect(await errorCode(bad.set('x', {}))).toBe('E_INVALID_ARGUMENT')
    expect(await bad.get('x')).toBeNull()
  })

  it('pages ids and sessions (SCAN with a count) over every master', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: `page${++seq}`, scanCount: 10 })
    const sids = Array.from({ length: 120 }, (_, i) => `p${i}`)
    await Promise.all(sids.map((sid, i) => store.set(sid, { i })))
    const pages: string[][] = []
    for await (const page of store.idPages({ count: 10 })) {
      expect(page.length).toBeLessThanOrEqual(40)
      pages.push(page)
    }
    expect(pages.length).toBeGreaterThan(2)
    expect(pages.flat().sort()).toEqual([...sids].sort())
    let seen = 0
    for await (const page of store.pages<{ i: number }>()) {
      for (const s of page) expect(s.id).toBe(`p${s.i}`)
      seen += page.length
    }
    expect(seen).toBe(120)
    expect(await store.length()).toBe(120)
    // A bad per-call count is the caller's typed error, as the scanCount option is (review 12 finding 18).
    for (const count of [0, -5, Number.NaN, 'x'])
      for (const pager of [store.idPages({ count: count as number }), store.pages({ count: count as number })])
        expect(await errorCode(pager.next()), String(count)).toBe('E_INVALID_ARGUMENT')
  })
})
