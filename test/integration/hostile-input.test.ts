import { EventEmitter } from 'node:events'
import expressSession from 'express-session'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { RedkitSessionStore } from '../../src/session/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { closeAll, type RawClient, type RawCluster, rawClient, rawCluster, standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

// Issue 13: hostile input and planted data. Each case ran against the code before its fix and
// failed (the finding it pins is named in the test).
describe.each(TOPOLOGIES)('hostile input on %s', (topology, options) => {
  let rk: Redkit
  let prefix: string
  let raw: RawClient | RawCluster

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
    raw = topology === 'cluster' ? await rawCluster() : await rawClient()
  })
  afterAll(async () => {
    await rk?.close()
    await closeAll(raw)
  })

  it("expirations refuse redkit's own expiry keys, and a pending expiry is still delivered", async () => {
    const got: string[] = []
    const subscription = await rk.expirations.on('pending:*', (event) => void got.push(event.key), { group: 'hostile' })
    await rk.expirations.set('pending:1', 'v', { ttlMs: 300 })
    const internal = [
      `${prefix}:{exp}:due`,
      `${prefix}:{exp}:events`,
      `${prefix}:{exp}:dir`,
      `${prefix}:{exp}`,
      `${prefix}:{~a1}:exp:due`,
      `${prefix}:{~0}`,
    ]
    for (const key of internal) {
      expect(await errorCode(rk.expirations.set(key, 'x', { ttlMs: 60_000 })), `set ${key}`).toBe('E_INVALID_KEY')
      expect(await errorCode(rk.expirations.expire(key, 60_000)), `expire ${key}`).toBe('E_INVALID_KEY')
      expect(await errorCode(rk.expirations.track(key)), `track ${key}`).toBe('E_INVALID_KEY')
      expect(await errorCode(rk.expirations.delete(key)), `delete ${key}`).toBe('E_INVALID_KEY')
      expect(await errorCode(rk.expirations.persist(key)), `persist ${key}`).toBe('E_INVALID_KEY')
    }
    // Names that merely look alike are user keys.
    expect(await rk.expirations.set(`${prefix}:{expiry}:x`, 'ok', { ttlMs: 60_000 })).toBeGreaterThan(0)
    expect(await rk.expirations.set(`${prefix}:{~zz-user}:x`, 'ok', { ttlMs: 60_000 })).toBeGreaterThan(0)
    await eventually(() => got.includes('pending:1'), 10_000, 'the pending expiry')
    await subscription.close()
  })

  it('invalidateTags deletes only entries of its cache, never keys a planted tag set names', async () => {
    const cache = rk.cache<string>('hostile-tags', { ttlMs: 60_000 })
    await cache.set('mine', 'v', { tags: ['t'] })
    const victims = ['outside:prefix:victim', `${prefix}:{queue-x}:ready`, `${prefix}:{other-cache:key}`]
    for (const key of victims) await raw.set(key, 'keep')
    // The tag set is planted with keys outside the cache; its key comes from the cache's own naming.
    const tagKey = `${prefix}:{hostile-tags#tag:t}`
    for (const key of victims) await raw.sAdd(tagKey, key)
    expect(await cache.invalidateTags(['t'])).toBe(1)
    expect(await cache.get('mine')).toBeUndefined()
    for (const key of victims) expect(await raw.get(key), key).toBe('keep')
    await raw.del(victims)
  })

  it('a counter refuses to leave the safe integer range and leaves its value unchanged', async () => {
    const counter = rk.counter('hostile-big')
    await counter.reset(Number.MAX_SAFE_INTEGER - 1)
    expect(await counter.incr()).toBe(Number.MAX_SAFE_INTEGER)
    expect(await errorCode(counter.incr())).toBe('E_INVALID_ARGUMENT')
    expect(await counter.value()).toBe(Number.MAX_SAFE_INTEGER)
    expect(await raw.get(counter.key)).toBe(String(Number.MAX_SAFE_INTEGER))
    await counter.reset(-Number.MAX_SAFE_INTEGER)
    expect(await errorCode(counter.decr(1))).toBe('E_INVALID_ARGUMENT')
    expect(await counter.value()).toBe(-Number.MAX_SAFE_INTEGER)
    // Planted values a number cannot hold exactly, or that are not integers, are named as such.
    await raw.set(counter.key, '18014398509481983')
    expect(await errorCode(counter.value())).toBe('E_DECODE')
    expect(await errorCode(counter.incr())).toBe('E_INVALID_ARGUMENT')
    expect(await raw.get(counter.key)).toBe('18014398509481983')
    await raw.set(counter.key, 'garbage')
    expect(await errorCode(counter.incr())).toBe('E_DECODE')
    expect(await counter.reset()).toBe(0)
    expect(await counter.incr(2)).toBe(2)
  })

  it('session context is bounded and typed: nothing is stored for a refused one', async () => {
    const sessions = rk.sessions({ name: 'hostile', idleTimeoutMs: 60_000 })
    const before = await raw.keys(`${prefix}:{session:hostile*`)
    for (const context of [
      { userAgent: 'x'.repeat(10 * 1024 * 1024) },
      { ip: 123 },
      { userAgent: {} },
      { ip: 'y'.repeat(65) },
      null,
      'ctx',
    ]) {
      expect(await errorCode(sessions.create('u1', {}, context as never)), JSON.stringify(context)?.slice(0, 40)).toBe('E_INVALID_ARGUMENT')
    }
    expect(await raw.keys(`${prefix}:{session:hostile*`)).toEqual(before)
    const ok = await sessions.create('u1', {}, { ip: '2001:db8::1', userAgent: 'Mozilla/5.0' })
    expect(await errorCode(sessions.get(ok.token, { userAgent: 7 } as never))).toBe('E_INVALID_ARGUMENT')
    expect(await sessions.get(ok.token, { userAgent: 'Mozilla/5.0' })).toBeDefined()
  })

  it('options are checked where they are given, not at first use', async () => {
    for (const backoff of [{ delayMs: Number.NaN }, { delayMs: -1 }, { delayMs: '100' }, { jitter: 2 }, null, 'fast']) {
      const code = await errorCode(rk.expirations.on('opt:*', () => {}, { group: 'opt', backoff: backoff as never }))
      expect(code, JSON.stringify(backoff)).toBe('E_INVALID_ARGUMENT')
    }
    expect(await errorCode(rk.expirations.on('opt:*', () => {}, { group: 'opt', from: 'bogus' as never }))).toBe('E_INVALID_ARGUMENT')
    const presence = rk.presence('opt-devices', { ttlMs: 60_000 })
    expect(await errorCode(presence.reapNow(Number.NaN))).toBe('E_INVALID_ARGUMENT')
    await presence.close()
    const queue = rk.queue('opt-q')
    expect(await errorCode(queue.add({ a: 1 }, [] as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(queue.jobIds('waiting', null as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(queue.retryDead(null as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(queue.clean(null as never))).toBe('E_INVALID_ARGUMENT')
    expect(await queue.counts()).toMatchObject({ waiting: 0 })
    expect(() => rk.cache('opt-c', null as never)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }))
    expect(() => rk.queue('opt-q2', 'x' as never)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }))
  })

  it('one undecodable job does not make queue.jobs() fail as a whole', async () => {
    const queue = rk.queue('planted-q')
    const [a, b] = await queue.addBulk([{ data: { n: 1 } }, { data: { n: 2 } }])
    // Plant garbage in one job's stored data field.
    const jobKey = `${queue.keys.jobPrefix}${a?.id}`
    const fields = await raw.hGetAll(jobKey)
    const dataField = Object.keys(fields).find((f) => fields[f]?.includes('"n":1'))
    expect(dataField).toBeDefined()
    await raw.hSet(jobKey, dataField as string, '{not json')
    const jobs = await queue.jobs('waiting')
    expect(jobs.map((job) => job.id)).toEqual([b?.id])
  })

  // Found by the planted-data suite (issue 13 item 6, scripts validate before they write): a
  // planted lease version INCR cannot bump made cache.set fail after it had written the entry, and
  // one of another type made a distributed load fail with its load lock left held. A plain write
  // repairs the version (review 13 finding 2: a refused write-behind set had been queued already).
  it('a planted lease version never fails a cache write halfway, nor leaves a load lock behind', async () => {
    const cache = rk.cache<number>('planted-ver', { ttlMs: 60_000, stampede: 'distributed' })
    const entry = `${prefix}:cache:{planted-ver:a}`
    const version = `${prefix}:cache-ver:{planted-ver:a}`
    for (const planted of ['inf', 'nan', '9223372036854775807', 'x']) {
      await raw.set(version, planted)
      await cache.set('a', 1)
      expect(await cache.get('a'), planted).toBe(1)
      // The version moved off the planted value: a load granted before cannot write back.
      expect(await raw.get(version)).not.toBe(planted)
      await raw.set(version, planted)
      expect(await cache.delete('a')).toBe(true)
      expect(await raw.exists(entry)).toBe(0)
    }
    await raw.del(version)
    await raw.sAdd(version, 'x')
    await cache.set('a', 2)
    expect(await cache.get('a')).toBe(2)
    expect(await raw.type(version)).toBe('string')
    await raw.del(version)
    await raw.sAdd(version, 'x')
    expect(await cache.delete('a')).toBe(true)
    expect(await raw.type(version)).toBe('string')
    await raw.del(version)
    await raw.sAdd(version, 'x')
    expect(await errorCode(cache.getOrLoad('a', async () => 3))).toBe('E_DECODE')
    expect(await raw.exists(`${prefix}:cache-lock:{planted-ver:a}`)).toBe(0)
    await raw.del(version)
  })

  // Found with the planted-data suite's plants, each op's writes compared when it failed.
  // Review 13 finding 2: the write-behind queue took the write, then the entry's script refused it.
  it('a write-behind set over a planted lease version is stored as well as queued', async () => {
    const written: Array<[string, number]> = []
    const cache = rk.cache<number>('planted-wb', { write: 'behind', writer: (key, value) => void written.push([key, value]) })
    await raw.rPush(`${prefix}:cache-ver:{planted-wb:b1}`, 'x')
    await cache.set('b1', 42)
    expect(await cache.get('b1')).toBe(42)
    await eventually(() => written.length === 1, 5000, 'the write reached the writer')
    expect(written).toEqual([['b1', 42]])
    await cache.close()
  })

  // Review 13 finding 1: set, delete and expire wrote the user's key, then failed on the kept-values hash.
  it.runIf(topology === 'standalone')(
    'expirations meeting a planted machinery key write nothing: the user key is neither written, deleted nor given a TTL',
    async () => {
      const values = `${prefix}:{exp}:val`
      const kept = `${prefix}:planted-exp:a`
      await rk.expirations.set(kept, 'v0', { ttlMs: 60_000 })
      await raw.set(`${prefix}:planted-exp:plain`, 'p')
      try {
        for (const plant of [() => raw.set(values, 'garbage'), () => raw.set(`${prefix}:{exp}:due`, 'garbage')]) {
          await plant()
          expect(await errorCode(rk.expirations.set(`${prefix}:planted-exp:b`, 'v1', { ttlMs: 60_000 }))).toBe('E_DECODE')
          expect(await raw.exists(`${prefix}:planted-exp:b`)).toBe(0)
          expect(await errorCode(rk.expirations.delete(kept))).toBe('E_DECODE')
          expect(await raw.exists(kept)).toBe(1)
          expect(await errorCode(rk.expirations.expire(`${prefix}:planted-exp:plain`, 60_000))).toBe('E_DECODE')
          expect(await raw.pTTL(`${prefix}:planted-exp:plain`)).toBe(-1)
          await raw.del([values, `${prefix}:{exp}:due`])
        }
      } finally {
        await raw.del([values, kept, `${prefix}:planted-exp:plain`])
      }
    },
  )

  it('a heartbeat meeting a key of the wrong type writes nothing (it renewed the heartbeat key, then failed)', async () => {
    const devices = rk.presence('planted-p', { ttlMs: 60_000 })
    await raw.set(`${prefix}:{presence:planted-p}:deadlines`, 'garbage')
    expect(await errorCode(devices.beat('d1'))).toBe('E_DECODE')
    expect(await raw.exists(`${prefix}:{presence:planted-p}:hb:d1`)).toBe(0)
    await raw.del(`${prefix}:{presence:planted-p}:deadlines`)
    await devices.beat('d1')
    expect(await devices.isOnline('d1')).toBe(true)
    await devices.close()
  })

  it.runIf(topology === 'standalone')(
    'a consumer group on a planted expiry stream of the wrong type is refused before its registry is written',
    async () => {
      const other = await createRedkit({ ...options(), prefix: `${prefix}g` })
      const events = `${prefix}g:{exp}:events`
      const groups = `${prefix}g:{exp}:groups`
      try {
        await raw.set(events, 'garbage')
        const failed = await errorCode(other.expirations.on('g:*', () => {}, { group: 'planted-g' }))
        expect(failed).toBe('E_DECODE')
        expect(await raw.exists(groups)).toBe(0)
      } finally {
        await other.close()
        await raw.del([events, groups])
      }
    },
  )

  it("a planted revocation epoch does not stop a user's logout everywhere; one of the wrong type writes nothing", async () => {
    const sessions = rk.sessions({ name: 'planted-r' })
    const epoch = `${prefix}:{session:planted-r:user:ann}:rev`
    const { token } = await sessions.create('ann', { a: 1 })
    for (const planted of ['inf', '1e400', 'garbage']) {
      await raw.set(epoch, planted)
      expect(await sessions.destroyAllForUser('ann')).toBeGreaterThanOrEqual(0)
      expect(await raw.get(epoch)).toMatch(/^\d{13}$/)
    }
    expect(await sessions.get(token)).toBeUndefined()
    await raw.del(epoch)
    await raw.sAdd(epoch, 'x')
    expect(await errorCode(sessions.destroyAllForUser('ann'))).toBe('E_DECODE')
    expect(await raw.type(`${prefix}:{session:planted-r:user:ann}:ids`)).not.toBe('zset')
    await raw.del(epoch)
  })

  it('a planted job log count (nan, inf) is refused, not written back, and reads as no log', async () => {
    const queue = rk.queue('planted-log')
    const { id } = await queue.add({ n: 1 })
    const jobKey = `${queue.keys.jobPrefix}${id}`
    for (const planted of ['nan', 'inf', '1e309']) {
      await raw.hSet(jobKey, '#', planted)
      expect(await errorCode(queue.log(id, 'line'))).toBe('E_DECODE')
      expect(await raw.hGet(jobKey, '#')).toBe(planted)
      expect((await queue.getLogs(id)).logs).toEqual([])
    }
  })

  // Review 13 finding 10: a sum past 2^53 was stored, and answered as a number Redis did not hold.
  it('inventory stock refuses to leave the safe integer range and stays unchanged', async () => {
    const shop = rk.inventory('planted-max')
    await shop.setStock('p', Number.MAX_SAFE_INTEGER - 1)
    expect(await errorCode(shop.addStock('p', 2))).toBe('E_INVALID_ARGUMENT')
    expect(await shop.available('p')).toBe(Number.MAX_SAFE_INTEGER - 1)
    expect(await shop.addStock('p', 1)).toBe(Number.MAX_SAFE_INTEGER)
    await shop.close()
  })

  // Review 13 findings 13 and 14: String() of a null-prototype object throws; reporting code that
  // called it crashed the process (channel handler, store callback) or skipped the load's unlock.
  it('a thrown null-prototype object is reported, never crashes the process nor leaves a load lock', async () => {
    const bare = () => Object.create(null) as unknown
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const channel = rk.channel<number>('planted-throw')
      const reports: string[] = []
      channel.on('error', (error) => void reports.push(error.code))
      const sub = await channel.subscribe(() => Promise.reject(bare()))
      await channel.publish(1)
      await eventually(() => reports.length > 0, 5000, 'the handler failure reported')
      await sub.close()

      const store = new RedkitSessionStore({ redkit: rk, name: 'planted-throw' })
      const storeReports: string[] = []
      store.on('error', (error) => void storeReports.push(error.code))
      await store.set('sid-throw', { cookie: { maxAge: 60_000 } }, () => {
        throw bare()
      })
      await eventually(() => storeReports.length > 0, 5000, 'the callback failure reported')

      const cache = rk.cache<number>('planted-throw', { stampede: 'distributed' })
      await cache.getOrLoad('k', async () => Promise.reject(bare())).catch(() => {})
      // The unlock follows the rejection (it does not delay the caller).
      await eventually(async () => (await raw.exists(`${prefix}:cache-lock:{planted-throw:k}`)) === 0, 5000, 'the load lock freed')
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  // Review 13 finding 4: the global login was written before the application's data was encoded.
  it('a refused sso.login leaves no global login behind', async () => {
    const shop = rk.sso({ app: 'shop', realm: 'refused' })
    for (const data of [Number.NaN, () => 1, 'x'.repeat(70_000)])
      expect(await errorCode(shop.login('carl', data as never))).toMatch(/^E_(ENCODE|TOO_LARGE)$/)
    expect((await shop.view('carl')).global).toEqual([])
  })

  it('a planted member of the single sign-on registry does not stop a logout everywhere halfway', async () => {
    const shop = rk.sso({ app: 'shop', realm: 'planted' })
    const blog = rk.sso({ app: 'blog', realm: 'planted' })
    const login = await shop.login('bob', {})
    const joined = await blog.join(login.global.token as string, {})
    expect(joined).toBeDefined()
    await raw.sAdd(`${prefix}:{sso:planted}:apps`, ['{"__proto__":1}', 'a:b', 'a.b', ''])
    expect(Object.keys((await shop.view('bob')).apps)).toEqual(['blog', 'shop'])
    expect(await shop.logoutEverywhere('bob')).toBeGreaterThanOrEqual(3)
    expect(await blog.get(joined?.app.token as string)).toBeUndefined()
    expect(await shop.get(login.app.token)).toBeUndefined()
  })

  // Found by the planted-data suite: a definition that was not JSON made scheduler.list() throw a
  // raw SyntaxError, and hid every other schedule of the queue.
  it('one undecodable schedule definition does not make scheduler.list() fail as a whole', async () => {
    await rk.scheduler.repeat({ queue: 'planted-s', id: 'good', data: 1, everyMs: 60_000 })
    await rk.scheduler.repeat({ queue: 'planted-s', id: 'bad', data: 2, everyMs: 60_000 })
    const defs = rk.queue('planted-s').keys.scheduleDefinitions
    await raw.hSet(defs, 'bad', '{not json')
    await raw.hSet(defs, 'number', '0')
    expect((await rk.scheduler.list('planted-s')).map((schedule) => schedule.id)).toEqual(['good'])
  })

  it('a session store callback that throws does not take the process down', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: 'hostile-cb' })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    const reported: Error[] = []
    store.on('error', (error) => reported.push(error))
    try {
      store.set('sid-1', { cookie: {} }, () => {
        throw new Error('callback bug')
      })
      store.get('sid-1', () => {
        throw new Error('callback bug 2')
      })
      await eventually(() => reported.length === 2, 5000, 'both callback errors reported')
      expect(reported.map((e) => (e as { code?: string }).code)).toEqual(['E_INVALID_ARGUMENT', 'E_INVALID_ARGUMENT'])
      // Give any stray rejection a turn of the loop to surface.
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(store).toBeInstanceOf(EventEmitter)
  })

  it('a regenerate whose callback or generate throws is reported (error event, else a warning), never an unhandled rejection (review 13)', async () => {
    const store = new RedkitSessionStore({ redkit: rk, name: 'hostile-regen' })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    const warnings: Array<{ code?: string; message: string }> = []
    const onWarning = (warning: Error & { code?: string }) => void warnings.push(warning)
    process.on('unhandledRejection', onUnhandled)
    process.on('warning', onWarning)
    try {
      // No error listener yet: a process warning.
      store.regenerate({ sessionID: 'sid-r0' }, () => {
        throw new Error('regenerate callback bug 0')
      })
      await eventually(() => warnings.some((w) => w.message.includes('regenerate callback bug 0')), 5000, 'the warning')
      expect(warnings.find((w) => w.message.includes('regenerate callback bug 0'))?.code).toBe('E_INVALID_ARGUMENT')
      const reported: Error[] = []
      store.on('error', (error) => reported.push(error))
      store.regenerate({ sessionID: 'sid-r1' }, () => {
        throw new Error('regenerate callback bug 1')
      })
      // A generate that throws fails the regenerate: its callback gets the error, once.
      store.generate = () => {
        throw new Error('generate bug')
      }
      const failures: unknown[] = []
      store.regenerate({ sessionID: 'sid-r2' }, (error) => void failures.push(error))
      // Both at once: the callback's own throw is reported, not passed back to it.
      store.regenerate({ sessionID: 'sid-r3' }, (error) => {
        throw new Error(`regenerate callback bug 3 after ${error?.message}`)
      })
      await eventually(() => reported.length === 2 && failures.length === 1, 5000, 'the callback errors reported')
      expect(reported.map((e) => (e as { code?: string }).code)).toEqual(['E_INVALID_ARGUMENT', 'E_INVALID_ARGUMENT'])
      expect(reported.map((e) => e.message).join('\n')).toContain('regenerate callback bug 1')
      expect(reported.map((e) => e.message).join('\n')).toContain('regenerate callback bug 3 after generate bug')
      expect(failures.map((e) => (e as Error).message)).toEqual(['generate bug'])
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(reported).toHaveLength(2)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      process.off('warning', onWarning)
    }
  })

  it('stored session data never sets the prototype or methods of the express-session cookie (review 13)', async () => {
    const name = 'hostile-proto'
    const store = new RedkitSessionStore({ redkit: rk, name })
    const load = (sid: string) =>
      new Promise<unknown>((resolve, reject) => store.load(sid, (error, session) => (error ? reject(error) : resolve(session))))
    // End-user data written through the app: the cookie carries an own "__proto__" and a "serialize".
    const cookie = JSON.parse(
      '{"originalMaxAge":60000,"expires":"2030-01-01T00:00:00.000Z","path":"/","serialize":"pwned","__proto__":{"serialize":"pwned","isAdmin":true}}',
    )
    await store.set('sid-p1', { cookie, user: 'ada' })
    const loaded = (await load('sid-p1')) as {
      user: string
      cookie: { serialize(name: string, value: string): string; originalMaxAge?: unknown; isAdmin?: unknown }
    }
    expect(Object.getPrototypeOf(loaded.cookie)).toBe(expressSession.Cookie.prototype)
    expect(loaded.cookie.isAdmin).toBeUndefined()
    expect(loaded.cookie.serialize('sid', 'v')).toBe('sid=v; Path=/; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly')
    expect(loaded.cookie.originalMaxAge).toBe(60000)
    expect(loaded.user).toBe('ada')
    // createSession with such data directly: the same.
    const req: { sessionID: string; session?: unknown } = { sessionID: 'sid-p1' }
    const direct = store.createSession<{ cookie: object }>(req, { cookie } as never)
    expect(Object.getPrototypeOf(direct.cookie)).toBe(expressSession.Cookie.prototype)
    // Data of the wrong shape passed to createSession: a typed error.
    for (const data of [{ cookie: 'x' }, { cookie: { path: 5 } }, { cookie: { expires: 'garbage' } }]) {
      expect(await errorCode(async () => store.createSession({ sessionID: 'sid-p9' }, data as never)), JSON.stringify(data)).toBe(
        'E_DECODE',
      )
    }
  })

  it('a planted session of the wrong shape is no session, reported as E_DECODE, and load still calls back (review 13)', async () => {
    const name = 'hostile-shape'
    const store = new RedkitSessionStore({ redkit: rk, name })
    const reported: Array<{ code?: string }> = []
    store.on('error', (error) => reported.push(error))
    const planted = [
      '{"cookie":"x"}',
      '{"cookie":5,"a":1}',
      '{"cookie":[]}',
      '{"cookie":{"path":5}}',
      '{"cookie":{"expires":"garbage"}}',
      '{"cookie":{"httpOnly":"yes"}}',
      '[1,2]',
      '"text"',
    ]
    for (const [i, text] of planted.entries()) {
      const sid = `sid-s${i}`
      await raw.set(`${prefix}:{session:${name}:id:${sid}}:s`, text)
      const calls: unknown[][] = []
      store.load(sid, (...args) => void calls.push(args))
      await eventually(() => calls.length > 0, 5000, `load calls back for ${text}`)
      expect(calls[0]?.[0], text).toBeFalsy()
      expect(calls[0]?.[1], text).toBeUndefined()
      expect(await store.get(sid), text).toBeNull()
    }
    expect(reported.length).toBe(planted.length * 2)
    expect(new Set(reported.map((e) => e.code))).toEqual(new Set(['E_DECODE']))
    // Fields that are null (as @fastify/session stores them) are the framework's defaults.
    await raw.set(
      `${prefix}:{session:${name}:id:sid-ok}:s`,
      '{"cookie":{"domain":null,"sameSite":null,"secure":null,"originalMaxAge":null},"n":1}',
    )
    expect(await store.get('sid-ok')).toMatchObject({ n: 1 })
    expect(reported.length).toBe(planted.length * 2)
  })
})

describe('durations past what a Node timer can wait (issue 13 item 7)', () => {
  it('are refused where they arm a timer, instead of firing after 1 ms', async () => {
    const url = { url: standaloneUrl() }
    const rk = await createRedkit({ ...url, prefix: testPrefix() })
    try {
      for (const ms of [2 ** 31, 1e14]) {
        expect(await errorCode(async () => rk.lock('a', { ttlMs: ms })), `lock ttlMs ${ms}`).toBe('E_INVALID_ARGUMENT')
        const sweepy = await createRedkit({ ...url, prefix: testPrefix(), expirations: { maxSweepIntervalMs: ms } })
        // rk.expirations is built (and its options checked) on first use.
        expect(await errorCode(async () => sweepy.expirations), `maxSweepIntervalMs ${ms}`).toBe('E_INVALID_ARGUMENT')
        await sweepy.close()
        expect(await errorCode(async () => rk.worker('q', async () => {}, { visibilityTimeoutMs: ms })), `visibilityTimeoutMs ${ms}`).toBe(
          'E_INVALID_ARGUMENT',
        )
        expect(await errorCode(async () => rk.cache('c', { loadTimeoutMs: ms })), `loadTimeoutMs ${ms}`).toBe('E_INVALID_ARGUMENT')
        expect(await errorCode(async () => rk.presence('p', { ttlMs: 1000, reapIntervalMs: ms })), `reapIntervalMs ${ms}`).toBe(
          'E_INVALID_ARGUMENT',
        )
      }
    } finally {
      await rk.close()
    }
  })
})
