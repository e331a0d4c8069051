import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RefreshEvent } from '../../src/cache/index.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

/** Regression tests of issue 12: refreshes keep per-call options, the Bloom guard fails open, loader errors are scrubbed. */
describe.each(TOPOLOGIES)('cache refreshes, guard and messages on %s', (_topology, options) => {
  let rk: Redkit
  let other: Redkit
  let prefix: string
  let n = 0
  const name = () => `op${++n}`
  const pttl = (key: string) => rk.connection.send<number>(['PTTL', key], { key })

  beforeAll(async () => {
    prefix = testPrefix()
    ;[rk, other] = await Promise.all([createRedkit({ ...options(), prefix }), createRedkit({ ...options(), prefix })])
  })
  afterAll(async () => {
    await Promise.all([rk?.close(), other?.close()])
  })

  describe.each(['distributed', 'local'] as const)('stampede: %s', (stampede) => {
    it('a background refresh writes the entry with its per-call TTL and tags (the tag index outlives it)', async () => {
      const cacheName = name()
      const cache = rk.cache<number>(cacheName, { stampede, jitter: 0, ttlMs: 60_000, staleWhileRevalidateMs: 5000 })
      let version = 0
      const load = async () => ++version
      expect(await cache.getOrLoad('k', load, { ttlMs: 100, tags: ['t'] })).toBe(1)
      await sleep(150)
      const refreshed = new Promise<RefreshEvent>((resolve) => cache.once('refresh', resolve))
      expect(await cache.getOrLoad('k', load)).toBe(1)
      expect((await refreshed).error).toBeUndefined()
      const entry = `${prefix}:cache:{${cacheName}:k}`
      const entryTtl = await pttl(entry)
      expect(entryTtl).toBeGreaterThan(0)
      expect(entryTtl).toBeLessThanOrEqual(5100)
      // The index is written just before the entry, a few ms earlier.
      expect(await pttl(`${prefix}:{${cacheName}#tag:t}`)).toBeGreaterThanOrEqual(entryTtl - 100)
      expect(await cache.invalidateTags(['t'])).toBe(1)
      expect(await cache.get('k')).toBeUndefined()
    })

    it('refresh(key) without options keeps the options the entry was written with', async () => {
      const cacheName = name()
      const cache = rk.cache<number>(cacheName, { stampede, jitter: 0, ttlMs: 60_000 })
      await cache.set('k', 1, { ttlMs: 2000, tags: ['t'] })
      expect(await cache.refresh('k', async () => 2)).toBe(2)
      const entryTtl = await pttl(`${prefix}:cache:{${cacheName}:k}`)
      expect(entryTtl).toBeLessThanOrEqual(2000)
      expect(await cache.invalidateTags(['t'])).toBe(1)
    })

    it('reloadOnExpire reloads with the per-call TTL and tags', async () => {
      const cacheName = name()
      let version = 0
      const cache = rk.cache<number>(cacheName, { stampede, jitter: 0, ttlMs: 60_000, reloadOnExpire: true, loader: async () => ++version })
      expect(await cache.getOrLoad('k', async () => ++version, { ttlMs: 300, tags: ['t'] })).toBe(1)
      await eventually(async () => (await cache.get('k')) === 2, 8000, 'reloaded value stored')
      expect(await pttl(`${prefix}:cache:{${cacheName}:k}`)).toBeLessThanOrEqual(300)
      expect(await cache.invalidateTags(['t'])).toBe(1)
    })
  })

  it('stats.refreshes counts only refreshes that ran a loader (not one another process was running)', async () => {
    const cacheName = name()
    const settings = { jitter: 0, ttlMs: 100, staleWhileRevalidateMs: 5000 }
    const a = rk.cache<number>(cacheName, settings)
    const b = other.cache<number>(cacheName, settings)
    await a.set('k', 1)
    await sleep(150)
    let release = () => {}
    const slow = a.refresh('k', () => new Promise<number>((resolve) => (release = () => resolve(2))))
    await sleep(50)
    const events: RefreshEvent[] = []
    b.on('refresh', (event) => events.push(event))
    expect(await b.getOrLoad('k', async () => 3)).toBe(1) // stale: b's background refresh finds a's lock
    await sleep(100)
    release()
    expect(await slow).toBe(2)
    expect(b.stats.refreshes).toBe(0)
    expect(events).toEqual([])
    expect(a.stats.refreshes).toBe(1)
  })

  it('bloom guard with write: around adds the key, so the loader is called for it', async () => {
    const source = new Map<string, string>()
    const bloom = rk.bloom(`${name()}-ids`, { expectedItems: 1000, falsePositiveRate: 0.001 })
    await bloom.add('seed')
    const cache = rk.cache<string>(name(), { bloom, write: 'around', writer: (key, value) => source.set(key, value) })
    await cache.set('new', 'row')
    expect(await cache.getOrLoad('new', async (key) => source.get(key))).toBe('row')
  })

  it('bloom guard fails open when the filter is gone (eviction, FLUSH, clear())', async () => {
    const bloom = rk.bloom(`${name()}-ids`, { expectedItems: 1000, falsePositiveRate: 0.001 })
    await bloom.add('1')
    const cache = rk.cache<string>(name(), { bloom })
    const calls: string[] = []
    const load = async (key: string) => {
      calls.push(key)
      return `row ${key}`
    }
    expect(await cache.getOrLoad('2', load)).toBeUndefined()
    expect(calls).toEqual([])
    await bloom.clear()
    expect(await cache.getOrLoad('2', load)).toBe('row 2')
    expect(calls).toEqual(['2'])
  })

  it('a set whose bloom add fails fails before the source is written', async () => {
    const source = new Map<string, string>()
    // The filter's own connection is gone, so every add fails.
    const owner = await createRedkit({ ...options(), prefix })
    const bloom = owner.bloom(`${name()}-ids`, { expectedItems: 1000, falsePositiveRate: 0.001 })
    await bloom.add('seed')
    await owner.close()
    const cache = rk.cache<string>(name(), { bloom, write: 'through', writer: (key, value) => source.set(key, value) })
    expect(await errorCode(cache.set('k', 'v'))).toBeDefined()
    expect(source.has('k')).toBe(false)
  })

  it('loader errors reach other processes scrubbed: first line, credentials redacted, cut short', async () => {
    const cacheName = name()
    const a = rk.cache<number>(cacheName)
    const b = other.cache<number>(cacheName)
    const failing = async () => {
      await sleep(300)
      throw new Error(`cannot reach redis://app:hunter22@db.internal:5432 ${'x'.repeat(500)}\nstack-ish detail line`)
    }
    const [, remote] = await Promise.allSettled([a.getOrLoad('k', failing), sleep(50).then(() => b.getOrLoad('k', failing))])
    expect(remote.status).toBe('rejected')
    const reason = (remote as PromiseRejectedResult).reason as Error & { code: string }
    expect(reason.code).toBe('E_LOAD_FAILED')
    expect(reason.message).not.toContain('hunter22')
    expect(reason.message).not.toContain('detail line')
    expect(reason.message.length).toBeLessThanOrEqual(200)
  })
})
