import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import type { ExpiredSession, SessionManager } from '../../src/session/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

const chrome = { ip: '10.0.0.1', userAgent: 'Chrome/120' }
let seq = 0
const name = () => `app${++seq}`

describe.each(TOPOLOGIES)('sessions on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  const rawTtl = (sessions: SessionManager, id: string) => {
    const key = `${prefix}:{session:${sessions.name}:id:${id}}:s`
    return rk.connection.send<number>(['PTTL', key], { key })
  }

  it('has the component lifecycle: close() ends its work (E_CLOSED after), rk.close() closes it, a bad option leaves nothing registered', async () => {
    const sessions = rk.sessions({ name: name() })
    const session = await sessions.create('ada', null)
    expect(sessions.state).toBe('open')
    await sessions.close()
    expect(sessions.state).toBe('closed')
    expect(await errorCode(sessions.get(session.token))).toBe('E_CLOSED')
    expect(await errorCode(sessions.create('ada', null))).toBe('E_CLOSED')
    // Another manager of the same name still reads it: closing one manager ends no session.
    expect((await rk.sessions({ name: sessions.name }).get(session.token))?.userId).toBe('ada')
    expect(await errorCode(async () => rk.sessions({ name: name(), idleTimeoutMs: -1 }))).toBe('E_INVALID_ARGUMENT')
    const own = await createRedkit({ ...options(), prefix })
    const tracked = own.sessions({ name: name(), trackExpiry: true })
    await own.close()
    expect(tracked.state).toBe('closed')
  })

  it('creates, reads, updates and destroys a session; data round-trips through the codec', async () => {
    const sessions = rk.sessions<{ cart: string[]; since: Date }>({ name: name() })
    const data = { cart: ['apple'], since: new Date(1_700_000_000_000) }
    const created = await sessions.create('ada', data, chrome)
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(created.token).toBe(created.id)
    expect(created).toMatchObject({ userId: 'ada', data, ip: chrome.ip, userAgent: chrome.userAgent })
    // The absolute deadline is set by the caller's clock, the rest by Redis's (the same machine here).
    expect(Math.abs(created.absoluteExpiresAt! - created.createdAt - 86_400_000)).toBeLessThan(1000)
    expect(created.lastAccessAt).toBe(created.createdAt)
    expect(created.expiresAt - created.createdAt).toBe(1_800_000)
    const read = await sessions.get(created.token)
    expect(read?.data).toEqual(data)
    expect(read?.csrfToken).toBe(created.csrfToken)
    expect(await sessions.update(created.token, { cart: ['apple', 'pear'], since: data.since })).toBe(true)
    expect((await sessions.get(created.token))?.data.cart).toEqual(['apple', 'pear'])
    expect(await sessions.destroy(created.token)).toBe(true)
    expect(await sessions.get(created.token)).toBeUndefined()
    expect(await sessions.destroy(created.token)).toBe(false)
    expect(await sessions.update(created.token, data)).toBe(false)
    expect(await sessions.touch(created.token)).toBe(false)
    const anonymous = await sessions.create(undefined, { cart: [], since: data.since })
    expect((await sessions.get(anonymous.id))?.userId).toBeUndefined()
  })

  it('slides the idle timeout on each read, never past the absolute deadline', async () => {
    // Each read comes well inside the idle timeout (700 ms of slack for a loaded machine); together
    // they outlast it. Accesses are recorded at most every 100 ms (a tenth of the idle timeout).
    const sessions = rk.sessions({ name: name(), idleTimeoutMs: 1000, absoluteTimeoutMs: 2500 })
    const s = await sessions.create('ada', 1)
    for (let i = 0; i < 4; i++) {
      await sleep(300)
      const read = await sessions.get(s.token)
      expect(read, `read ${i}`).toBeDefined()
      expect(read!.expiresAt).toBeLessThanOrEqual(s.absoluteExpiresAt!)
      expect(read!.lastAccessAt).toBeGreaterThanOrEqual(s.createdAt + 300 * (i + 1))
    }
    // Reads without touch leave the idle timeout alone.
    await sleep(150)
    const before = await rawTtl(sessions, s.id)
    expect((await sessions.get(s.token, { touch: false }))?.id).toBe(s.id)
    expect(await rawTtl(sessions, s.id)).toBeLessThanOrEqual(before)
    // Two reads in a row fall inside one interval: the second does not write again.
    const first = await sessions.get(s.token)
    const second = await sessions.get(s.token)
    expect(second?.lastAccessAt).toBe(first?.lastAccessAt)
    await eventually(async () => (await sessions.get(s.token)) === undefined, 4000, 'absolute deadline')
    expect(Date.now()).toBeGreaterThanOrEqual(s.absoluteExpiresAt! - 50)

    const short = rk.sessions({ name: name(), idleTimeoutMs: 300 })
    const idle = await short.create('ada', 1)
    expect(await rawTtl(short, idle.id)).toBeLessThanOrEqual(300)
    await sleep(450)
    expect(await short.get(idle.token)).toBeUndefined()
  })

  it('supports idle-only and absolute-only sessions, and refuses neither', async () => {
    const idleOnly = rk.sessions({ name: name(), idleTimeoutMs: 60_000, absoluteTimeoutMs: false })
    const s = await idleOnly.create('ada', 1)
    expect(s.absoluteExpiresAt).toBeUndefined()
    expect(s.expiresAt - s.createdAt).toBe(60_000)
    const absoluteOnly = rk.sessions({ name: name(), idleTimeoutMs: false, absoluteTimeoutMs: 60_000 })
    const a = await absoluteOnly.create('ada', 1)
    await sleep(20)
    expect((await absoluteOnly.get(a.token))?.expiresAt).toBe(a.absoluteExpiresAt)
    expect(await errorCode(async () => rk.sessions({ idleTimeoutMs: false, absoluteTimeoutMs: false }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(async () => rk.sessions({ idleTimeoutMs: -1 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(async () => rk.sessions({ name: 'a{b}' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(async () => rk.sessions({ name: 'a:id:b' }))).toBe('E_INVALID_KEY')
  })

  it('signs tokens: a forged or altered one finds nothing and is reported', async () => {
    const sessions = rk.sessions({ name: name(), secret: 'this is a long enough secret' })
    const rejected: string[] = []
    sessions.on('rejected', (e) => rejected.push(e.reason))
    const s = await sessions.create('ada', 1)
    expect(s.token).toBe(`${s.id}.${s.token.split('.')[1]}`)
    expect((await sessions.get(s.token))?.id).toBe(s.id)
    expect(await sessions.get(s.id)).toBeUndefined()
    expect(await sessions.get(`${s.id}.forged`)).toBeUndefined()
    expect(await sessions.destroy(s.id)).toBe(false)
    expect(rejected).toEqual(['signature', 'signature', 'signature'])
    // A forged `except` must not make revoke-all end the current session too.
    expect(await errorCode(sessions.destroyAllForUser('ada', { except: s.id }))).toBe('E_INVALID_ARGUMENT')
    expect(await sessions.get(s.token)).toBeDefined()
    const unsigned = rk.sessions({ name: name() })
    unsigned.on('rejected', (e) => rejected.push(e.reason))
    expect(await unsigned.get('../../etc/passwd')).toBeUndefined()
    expect(await unsigned.get('')).toBeUndefined()
    expect(rejected.slice(4)).toEqual(['shape', 'shape'])
  })

  it('binds a session to its client: another user agent gets nothing, the session is untouched', async () => {
    const sessions = rk.sessions({ name: name(), fingerprint: true, idleTimeoutMs: 60_000 })
    const rejected: Array<{ reason: string; session?: string }> = []
    sessions.on('rejected', (e) => rejected.push(e))
    const s = await sessions.create('ada', { v: 1 }, chrome)
    const curl = { userAgent: 'curl/8' }
    expect(await sessions.get(s.token, curl)).toBeUndefined()
    expect(await sessions.get(s.token, {})).toBeUndefined()
    expect(await sessions.touch(s.token, curl)).toBe(false)
    expect(await sessions.update(s.token, { v: 2 }, curl)).toBe(false)
    expect(await sessions.rotate(s.token, curl)).toBeUndefined()
    // Events name the session by a short hash, never by its id (a bearer secret).
    expect(rejected).toHaveLength(5)
    for (const event of rejected) expect(event).toEqual({ reason: 'fingerprint', session: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) })
    expect(JSON.stringify(rejected)).not.toContain(s.id)
    const same = await sessions.get(s.token, { userAgent: chrome.userAgent, ip: '192.168.1.1' })
    expect(same?.id).toBe(s.id)
    expect(same?.data).toEqual({ v: 1 })
    expect((await sessions.rotate(s.token, chrome))?.userId).toBe('ada')
  })

  it('issues a CSRF token per session and checks it in constant time', async () => {
    const sessions = rk.sessions({ name: name() })
    const s = await sessions.create('ada', 1)
    const other = await sessions.create('ada', 1)
    expect(s.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(sessions.verifyCsrf(s, s.csrfToken)).toBe(true)
    expect(sessions.verifyCsrf(s, other.csrfToken)).toBe(false)
    expect(sessions.verifyCsrf(s, undefined)).toBe(false)
    expect(sessions.verifyCsrf(s, s.csrfToken.slice(1))).toBe(false)
    expect(sessions.verifyCsrf({ csrfToken: '' }, '')).toBe(false)
  })

  it('rotates the id: same user, data and deadlines, a new CSRF token, the old id ends', async () => {
    const sessions = rk.sessions({ name: name(), absoluteTimeoutMs: 60_000 })
    const old = await sessions.create('ada', { role: 'user' }, chrome)
    await sleep(10)
    // Two rotations at once: only one gets the session.
    const [a, b] = await Promise.all([sessions.rotate(old.token), sessions.rotate(old.token)])
    expect([a, b].filter(Boolean)).toHaveLength(1)
    const next = a ?? b
    expect(next!.id).not.toBe(old.id)
    expect(next!.csrfToken).not.toBe(old.csrfToken)
    expect(next).toMatchObject({
      userId: 'ada',
      data: { role: 'user' },
      createdAt: old.createdAt,
      absoluteExpiresAt: old.absoluteExpiresAt,
    })
    expect(next).toMatchObject({ ip: chrome.ip, userAgent: chrome.userAgent })
    expect(next!.lastAccessAt).toBeGreaterThanOrEqual(old.lastAccessAt + 10)
    expect((await sessions.get(next!.token, { touch: false }))?.lastAccessAt).toBe(next!.lastAccessAt)
    expect(await sessions.get(old.token)).toBeUndefined()
    expect((await sessions.listForUser('ada')).map((s) => s.handle)).toEqual([sessions.handleOf(next!.token)])
    expect(await sessions.rotate(old.token)).toBeUndefined()
  })

  it('lists a user’s sessions and revokes them everywhere (but the current one), across slots', async () => {
    // Idle 5 s: accesses are recorded at most every 500 ms. 12 logins at once, as from 12 devices.
    const sessions = rk.sessions({ name: name(), idleTimeoutMs: 5000 })
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => sessions.create('grace', { i }, { userAgent: `device ${i}` })))
    const bob = await sessions.create('bob', {})
    const slots = new Set(made.map((s) => hashSlot(`${prefix}:{session:${sessions.name}:id:${s.id}}:s`)))
    expect(slots.size).toBeGreaterThan(1)
    await sleep(600)
    const touched = await sessions.get(made[5]!.token)
    expect(touched!.lastAccessAt).toBeGreaterThanOrEqual(made[5]!.createdAt + 500)
    expect(touched!.expiresAt).toBe(touched!.lastAccessAt + 5000)
    const listed = await sessions.listForUser('grace')
    expect(listed).toHaveLength(12)
    expect(listed[0]?.handle).toBe(sessions.handleOf(made[5]!.token))
    expect(listed[0]).not.toHaveProperty('id')
    expect(listed[0]).not.toHaveProperty('csrfToken')
    expect(listed[0]).not.toHaveProperty('data')
    expect(new Set(listed.map((s) => s.userAgent)).size).toBe(12)
    expect(await sessions.destroy(made[0]!.token)).toBe(true)
    expect(await sessions.listForUser('grace')).toHaveLength(11)
    expect(await sessions.destroyAllForUser('grace', { except: made[1]!.token })).toBe(10)
    expect((await sessions.listForUser('grace')).map((s) => s.handle)).toEqual([sessions.handleOf(made[1]!.token)])
    for (const s of made.slice(2)) expect(await sessions.get(s.token)).toBeUndefined()
    expect(await sessions.get(bob.token)).toBeDefined()
    expect(await sessions.destroyAllForUser('grace')).toBe(1)
    expect(await sessions.listForUser('grace')).toEqual([])
    expect(await sessions.listForUser('nobody')).toEqual([])
  })

  it('drops index entries of sessions that ended, but never one whose login is still in flight', async () => {
    const sessions = rk.sessions({ name: name(), idleTimeoutMs: 150 })
    const s = await sessions.create('lin', 1)
    const index = `${prefix}:{session:${sessions.name}:user:lin}:ids`
    const size = () => rk.connection.send<number>(['ZCARD', index], { key: index })
    expect(await size()).toBe(1)
    await sleep(300)
    expect(await sessions.get(s.token)).toBeUndefined()
    // The entry is written before its session: a young entry without one may be a login in flight.
    expect(await sessions.listForUser('lin')).toEqual([])
    expect(await size()).toBe(1)
    // Once it is older than that, listing drops it, and so does the user's next login.
    await rk.connection.send(['ZADD', index, 'XX', String(Date.now() - 60_000), s.id], { key: index })
    expect(await sessions.listForUser('lin')).toEqual([])
    expect(await size()).toBe(0)
    const gone = await sessions.create('lin', 2)
    await sleep(300)
    await rk.connection.send(['ZADD', index, 'XX', String(Date.now() - 60_000), gone.id], { key: index })
    const live = await sessions.create('lin', 3)
    expect(await rk.connection.send(['ZRANGE', index, '0', '-1'], { key: index })).toEqual([live.id])
  })

  it('reports each expiry once per group with its user, cleans the index itself, and stays silent for logouts', async () => {
    const sessions = rk.sessions({ name: name(), idleTimeoutMs: 2000, trackExpiry: true })
    const events: ExpiredSession[] = []
    const sub = await sessions.onExpired((e) => void events.push(e), { group: 'audit' })
    const expiring = await sessions.create('mia', 1)
    const loggedOut = await sessions.create('mia', 2)
    const kept = await sessions.create('mia', 3)
    const keepAlive = setInterval(() => void sessions.touch(kept.token), 200)
    try {
      await sessions.destroy(loggedOut.token)
      await eventually(() => events.length >= 1, 5000, 'expiry event')
      await sleep(300)
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ id: expiring.id, userId: 'mia', attempt: 1 })
      expect(events[0]!.expiredAt).toBeGreaterThan(expiring.createdAt)
      const index = `${prefix}:{session:${sessions.name}:user:mia}:ids`
      await eventually(
        async () => (await rk.connection.send<string[]>(['ZRANGE', index, '0', '-1'], { key: index })).join() === kept.id,
        5000,
        'index cleaned',
      )
    } finally {
      clearInterval(keepAlive)
      await sub.close()
    }
    expect(await errorCode(rk.sessions({ name: name() }).onExpired(() => {}))).toBe('E_INVALID_ARGUMENT')
  })

  it('refuses bad input with typed errors and leaves stored sessions as they were', async () => {
    const sessions = rk.sessions<unknown>({ name: name(), maxDataBytes: 1000 })
    const s = await sessions.create('ada', { ok: true })
    expect(await errorCode(sessions.create('ada', { f: () => 1 }))).toBe('E_ENCODE')
    expect(await errorCode(sessions.create('ada', 'x'.repeat(2000)))).toBe('E_TOO_LARGE')
    expect(await errorCode(sessions.create('a{b}', 1))).toBe('E_INVALID_KEY')
    expect(await errorCode(sessions.create('', 1))).toBe('E_INVALID_KEY')
    expect(await errorCode(sessions.create(42 as unknown as string, 1))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(sessions.update(s.token, { f: Symbol('x') }))).toBe('E_ENCODE')
    expect(await errorCode(sessions.update(s.token, 'x'.repeat(2000)))).toBe('E_TOO_LARGE')
    expect(await errorCode(sessions.get(42 as unknown as string))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(sessions.listForUser('\u0000'))).toBe('E_INVALID_KEY')
    expect((await sessions.get(s.token))?.data).toEqual({ ok: true })
    expect(await sessions.listForUser('ada')).toHaveLength(1)
    expect(await errorCode(async () => rk.sessions({ fingerprint: 'ip' as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(async () => rk.sessions({ secret: 'short' }))).toBe('E_INVALID_ARGUMENT')
  })
})
