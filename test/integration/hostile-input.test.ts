import { EventEmitter } from 'node:events'
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
