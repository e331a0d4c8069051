import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RefreshEvent } from '../../src/cache/index.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit, type RedkitOptions } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { closeAll, clusterUrls, rawClient, rawCluster, standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

/** A loader that counts its calls and can be slowed down. */
function counted<T>(fn: (key: string) => T | Promise<T>, delayMs = 0) {
  const calls: string[] = []
  return {
    calls,
    load: async (key: string) => {
      calls.push(key)
      if (delayMs) await sleep(delayMs)
      return fn(key)
    },
  }
}

interface Raw {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<unknown>
  pTTL(key: string): Promise<number>
  close(): Promise<unknown>
  destroy(): unknown
}

const topologies: Array<[string, () => RedkitOptions, () => Promise<Raw>]> = [
  ['standalone', () => ({ url: standaloneUrl() }), async () => (await rawClient()) as unknown as Raw],
  ['cluster', () => ({ cluster: { rootNodes: clusterUrls() } }), async () => (await rawCluster()) as unknown as Raw],
]

describe.each(topologies)('cache on %s', (topology, options, openRaw) => {
  let rk: Redkit
  let other: Redkit
  let raw: Raw
  let prefix: string
  let n = 0
  const name = () => `c${++n}`

  beforeAll(async () => {
    prefix = testPrefix()
    ;[rk, other, raw] = await Promise.all([createRedkit({ ...options(), prefix }), createRedkit({ ...options(), prefix }), openRaw()])
  })
  afterAll(async () => {
    await Promise.all([rk?.close(), other?.close()])
    await closeAll(raw)
  })

  it('stores and reads values of every type, keeping falsy values distinct from absent', async () => {
    const cache = rk.cache<unknown>(name())
    const values: Array<[string, unknown]> = [
      ['null', null],
      ['zero', 0],
      ['false', false],
      ['empty', ''],
      ['object', { a: 1, at: new Date(5), big: 12n, list: [1, 'x'] }],
      ['weird{key}%', 'braces'],
    ]
    for (const [key, value] of values) await cache.set(key, value)
    for (const [key, value] of values) expect(await cache.get(key)).toEqual(value)
    expect(await cache.get('missing')).toBeUndefined()
    expect(await cache.delete('zero')).toBe(true)
    expect(await cache.delete('zero')).toBe(false)
    expect(await cache.get('zero')).toBeUndefined()
  })

  it('getOrLoad: one loader call for 200 concurrent callers, then hits', async () => {
    const cache = rk.cache<{ id: string }>(name())
    const loader = counted((key) => ({ id: key }), 50)
    const results = await Promise.all(Array.from({ length: 200 }, () => cache.getOrLoad('user:1', loader.load)))
    expect(loader.calls).toEqual(['user:1'])
    expect(results.every((r) => r?.id === 'user:1')).toBe(true)
    expect(await cache.getOrLoad('user:1', loader.load)).toEqual({ id: 'user:1' })
    expect(loader.calls).toHaveLength(1)
    expect(cache.stats.hits).toBeGreaterThanOrEqual(1)
  })

  it('distributed stampede across two instances: one loader call, waiters woken by the fill', async () => {
    const cacheName = name()
    const a = rk.cache<number>(cacheName)
    const b = other.cache<number>(cacheName)
    const loader = counted(() => 7, 300)
    const started = Date.now()
    const results = await Promise.all([
      ...Array.from({ length: 50 }, () => a.getOrLoad('k', loader.load)),
      ...Array.from({ length: 50 }, () => b.getOrLoad('k', loader.load)),
    ])
    expect(loader.calls).toHaveLength(1)
    expect(results.every((r) => r === 7)).toBe(true)
    // Woken by the message, not after a lock TTL (10 s) or a polling interval.
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('a failing loader is not cached and its error reaches every waiter, in this process and others', async () => {
    const cacheName = name()
    const a = rk.cache<number>(cacheName)
    const b = other.cache<number>(cacheName)
    let calls = 0
    const failing = async () => {
      calls++
      await sleep(200)
      throw new Error('database is down')
    }
    const local = await Promise.allSettled(Array.from({ length: 20 }, () => a.getOrLoad('k', failing)))
    expect(calls).toBe(1)
    expect(local.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'database is down')).toBe(true)
    calls = 0
    const both = await Promise.allSettled([a.getOrLoad('k', failing), sleep(50).then(() => b.getOrLoad('k', failing))])
    expect(calls).toBe(1)
    const remote = both[1]
    expect(remote.status).toBe('rejected')
    expect((remote as PromiseRejectedResult).reason).toMatchObject({ code: 'E_LOAD_FAILED', message: 'database is down' })
    expect(await a.getOrLoad('k', async () => 3)).toBe(3)
  })

  it('a hanging loader is bounded by loadTimeoutMs; the key loads again once its lock TTL passed', async () => {
    const cache = rk.cache<number>(name(), { loadTimeoutMs: 200 })
    const started = Date.now()
    expect(await errorCode(cache.getOrLoad('k', () => new Promise<number>(() => {})))).toBe('E_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(1500)
    expect(await cache.getOrLoad('k', () => 1)).toBe(1)
  })

  it('negative caching: absent is cached for negativeTtlMs; null is a value', async () => {
    const cache = rk.cache<string | null>(name(), { negativeTtlMs: 300 })
    const absent = counted(() => undefined)
    expect(await cache.getOrLoad('ghost', absent.load)).toBeUndefined()
    expect(await cache.getOrLoad('ghost', absent.load)).toBeUndefined()
    expect(absent.calls).toHaveLength(1)
    await sleep(350)
    expect(await cache.getOrLoad('ghost', absent.load)).toBeUndefined()
    expect(absent.calls).toHaveLength(2)
    const nulls = counted(() => null)
    expect(await cache.getOrLoad('nothing', nulls.load)).toBeNull()
    expect(await cache.getOrLoad('nothing', nulls.load)).toBeNull()
    expect(nulls.calls).toHaveLength(1)
    // Without negativeTtlMs, absent is not cached.
    const plain = rk.cache<string>(name())
    const absent2 = counted(() => undefined)
    await plain.getOrLoad('x', absent2.load)
    await plain.getOrLoad('x', absent2.load)
    expect(absent2.calls).toHaveLength(2)
  })

  it('jitter spreads the TTLs of keys written together, within the fraction', async () => {
    const cacheName = name()
    const cache = rk.cache<number>(cacheName, { ttlMs: 100_000, jitter: 0.2 })
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, i)))
    const ttls = await Promise.all(Array.from({ length: 50 }, (_, i) => raw.pTTL(`${prefix}:cache:{${cacheName}:k${i}}`)))
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(79_000)
      expect(ttl).toBeLessThanOrEqual(100_000)
    }
    expect(new Set(ttls.map((t) => Math.round(t / 100))).size).toBeGreaterThan(20)
  })

  it('stale-while-revalidate: serves the stale value and refreshes once in the background', async () => {
    const cache = rk.cache<number>(name(), { ttlMs: 150, jitter: 0, staleWhileRevalidateMs: 5000 })
    let version = 1
    const loader = counted(() => version)
    const refreshes: RefreshEvent[] = []
    cache.on('refresh', (e) => refreshes.push(e))
    expect(await cache.getOrLoad('k', loader.load)).toBe(1)
    version = 2
    await sleep(200)
    const stale = await Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad('k', loader.load)))
    expect(stale.every((v) => v === 1)).toBe(true)
    await eventually(() => refreshes.length === 1, 2000, 'refresh')
    expect(refreshes[0]).toMatchObject({ key: 'k', reason: 'stale' })
    expect(loader.calls).toHaveLength(2)
    expect(await cache.getOrLoad('k', loader.load)).toBe(2)
    expect(cache.stats.stale).toBeGreaterThanOrEqual(1)
  })

  it('refresh-ahead: a read late in the TTL refreshes before expiry', async () => {
    const cache = rk.cache<number>(name(), { ttlMs: 600, jitter: 0, refreshAhead: 0.5 })
    let version = 1
    const loader = counted(() => version)
    expect(await cache.getOrLoad('k', loader.load)).toBe(1)
    expect(await cache.getOrLoad('k', loader.load)).toBe(1)
    expect(loader.calls).toHaveLength(1)
    version = 2
    await sleep(350)
    expect(await cache.getOrLoad('k', loader.load)).toBe(1)
    await eventually(async () => (await cache.get('k')) === 2, 2000, 'refreshed value')
    expect(loader.calls).toHaveLength(2)
  })

  it('tags: invalidateTags deletes every tagged entry across slots, and nothing else', async () => {
    const cacheName = name()
    const cache = rk.cache<number>(cacheName)
    const keys = Array.from({ length: 60 }, (_, i) => `item${i}`)
    await Promise.all(keys.map((key, i) => cache.set(key, i, { tags: i % 2 === 0 ? ['even', 'all'] : ['odd', 'all'] })))
    const slots = new Set(keys.map((k) => hashSlot(`${prefix}:cache:{${cacheName}:${k}}`)))
    expect(slots.size).toBeGreaterThan(30)
    const loaded = await cache.getOrLoad('loaded', async () => 99, { tags: (v) => [`value-${v}`] })
    expect(loaded).toBe(99)
    expect(await cache.invalidateTags(['even'])).toBe(30)
    for (const [i, key] of keys.entries()) expect(await cache.get(key)).toBe(i % 2 === 0 ? undefined : i)
    expect(await cache.invalidateTags(['value-99', 'nope'])).toBe(1)
    expect(await cache.get('loaded')).toBeUndefined()
    expect(await cache.invalidateTags(['all'])).toBe(30)
    expect(await cache.get('item1')).toBeUndefined()
  })

  it('tags are names: lone surrogates are refused (they would collide), null tags are E_INVALID_ARGUMENT, and nothing is written (review 13)', async () => {
    const cacheName = name()
    const writes: string[] = []
    const cache = rk.cache<number>(cacheName, { write: 'through', writer: (key) => void writes.push(key) })
    const errors: Array<{ code?: string }> = []
    cache.on('error', (error) => errors.push(error))
    expect(await errorCode(cache.set('k1', 1, { tags: ['\uD800'] }))).toBe('E_INVALID_KEY')
    expect(await errorCode(cache.set('k1', 1, { tags: ['ok', 'a\uDBFFb'] }))).toBe('E_INVALID_KEY')
    expect(await errorCode(cache.set('k1', 1, { tags: null as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(cache.set('k1', 1, { tags: 'ok' as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(cache.invalidateTags(['\uDBFF']))).toBe('E_INVALID_KEY')
    // Keys too: '\uD800' and '\uDBFF' would be one entry.
    expect(await errorCode(cache.set('\uD800', 1))).toBe('E_INVALID_KEY')
    expect(await errorCode(cache.get('\uDBFF'))).toBe('E_INVALID_KEY')
    expect(writes).toEqual([])
    // A loaded value with bad tags is returned, reported as a typed error, and not stored.
    // Bad tags given to a load are refused before it (review 12 finding 7); a tags function's bad
    // result is known only after it: the value is returned, reported as a typed error, and not stored.
    expect(await errorCode(cache.getOrLoad('k2', async () => 2, { tags: null as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await cache.getOrLoad('k3', async () => 3, { tags: () => ['\uD800'] })).toBe(3)
    await eventually(() => errors.length >= 1, 5000, 'reported')
    expect(errors.map((e) => e.code)).toEqual(['E_INVALID_KEY'])
    for (const key of ['k1', 'k2', 'k3']) expect(await raw.get(`${prefix}:cache:{${cacheName}:${key}}`), key).toBeNull()
    // Well-formed astral characters (surrogate pairs) are names like any other.
    await cache.set('\u{1F600}', 1, { tags: ['\u{1F3F7}'] })
    await cache.set('k4', 4, { tags: ['\u{1F3F8}'] })
    expect(await cache.get('\u{1F600}')).toBe(1)
    expect(await cache.invalidateTags(['\u{1F3F7}'])).toBe(1)
    expect(await cache.get('\u{1F600}')).toBeUndefined()
    expect(await cache.get('k4')).toBe(4)
  })

  it('wrap caches a function by the key of its arguments; refresh reloads now', async () => {
    const cache = rk.cache<string>(name())
    let calls = 0
    const greet = cache.wrap(
      async (first: string, last: string) => {
        calls++
        return `hello ${first} ${last} #${calls}`
      },
      (first, last) => `${first}:${last}`,
    )
    expect(await greet('ada', 'lovelace')).toBe('hello ada lovelace #1')
    expect(await greet('ada', 'lovelace')).toBe('hello ada lovelace #1')
    expect(calls).toBe(1)
    expect(await cache.refresh('ada:lovelace', async () => 'fresh')).toBe('fresh')
    expect(await greet('ada', 'lovelace')).toBe('fresh')
    expect(await errorCode(rk.cache<string>(name()).refresh('x'))).toBe('E_INVALID_ARGUMENT')
  })

  it('bloom guard: keys it never saw are absent without a loader call; writes add to it', async () => {
    const bloom = rk.bloom(`${name()}-ids`, { expectedItems: 1000, falsePositiveRate: 0.001 })
    await bloom.addMany(['1', '2', '3'])
    const cache = rk.cache<string>(name(), { bloom })
    const loader = counted((key) => `user ${key}`)
    expect(await cache.getOrLoad('2', loader.load)).toBe('user 2')
    expect(await cache.getOrLoad('999', loader.load)).toBeUndefined()
    expect(loader.calls).toEqual(['2'])
    await cache.set('500', 'added')
    expect(await bloom.mightContain('500')).toBe(true)
  })

  it('write-through writes the source then caches; write-around writes and drops the cached copy', async () => {
    const source = new Map<string, number>()
    const writer = { write: (key: string, value: number) => void source.set(key, value), delete: (key: string) => void source.delete(key) }
    const through = rk.cache<number>(name(), { write: 'through', writer })
    await through.set('a', 1)
    expect(source.get('a')).toBe(1)
    expect(await through.get('a')).toBe(1)
    await through.delete('a')
    expect(source.has('a')).toBe(false)
    const around = rk.cache<number>(name(), { write: 'around', writer })
    await around.set('b', 1)
    expect(await around.getOrLoad('b', (key) => source.get(key))).toBe(1)
    await around.set('b', 2)
    expect(source.get('b')).toBe(2)
    expect(await around.get('b')).toBeUndefined()
    expect(() => rk.cache(name(), { write: 'through' })).toThrow(/writer/)
  })

  it('write-behind: cached at once, written by a drainer, flushed on close', async () => {
    const cacheName = name()
    const source = new Map<string, number>()
    const writes: string[] = []
    const writer = {
      write: async (key: string, value: number) => {
        writes.push(key)
        source.set(key, value)
      },
      delete: (key: string) => void source.delete(key),
    }
    // A drainer in another instance, and a writer-only one here.
    const producer = rk.cache<number>(cacheName, { write: 'behind', writer, writeBehind: { drain: false } })
    const drainer = other.cache<number>(cacheName, { write: 'behind', writer })
    for (let i = 0; i < 20; i++) await producer.set(`k${i % 10}`, i)
    expect(await producer.get('k3')).toBe(13)
    await eventually(() => source.size === 10 && source.get('k9') === 19, 5000, 'drained')
    await producer.delete('k0')
    await eventually(() => !source.has('k0'), 5000, 'delete drained')
    // The writer runs before its entry is acknowledged, so the queue empties a moment later.
    await eventually(async () => (await producer.pendingWrites()) === 0, 5000, 'queue emptied')
    // Superseded writes of a key are skipped: at most 20 writer calls, every key's last value wins.
    expect(writes.length).toBeLessThanOrEqual(20)
    await drainer.close()
    // With no drainer running, close() of a draining instance flushes what is queued.
    const flusher = rk.cache<number>(name(), { write: 'behind', writer })
    await flusher.close()
    const late = rk.cache<number>(cacheName, { write: 'behind', writer })
    await producer.set('late', 42)
    await late.close()
    expect(source.get('late')).toBe(42)
  })

  it('near cache: hits stay in memory; an external SET evicts the copy at once (client tracking)', async () => {
    const cacheName = name()
    const cache = rk.cache<string>(cacheName, { near: { maxEntries: 100, ttlMs: 60_000 } })
    await eventually(() => cache.nearReady, 5000, 'tracking up')
    await cache.set('k', 'v1')
    expect(await cache.getOrLoad('k', () => 'loaded')).toBe('v1')
    const before = cache.stats.nearHits
    for (let i = 0; i < 10; i++) expect(await cache.getOrLoad('k', () => 'loaded')).toBe('v1')
    expect(cache.stats.nearHits - before).toBe(10)
    const evicted = new Promise<number>((resolve) => cache.once('invalidate', () => resolve(performance.now())))
    const start = performance.now()
    const now = Date.now()
    await raw.set(`${prefix}:cache:{${cacheName}:k}`, `j${now}:${now + 60_000}|"external"`)
    const at = await evicted
    expect(at - start).toBeLessThan(100)
    expect(await cache.getOrLoad('k', () => 'loaded')).toBe('external')
  })

  it('near cache: a write through another instance evicts the copy here', async () => {
    const cacheName = name()
    const a = rk.cache<number>(cacheName, { near: { tracking: false } })
    const b = other.cache<number>(cacheName)
    await eventually(() => a.nearReady, 5000, 'subscribed')
    await b.set('k', 1)
    // The first reads may race b's invalidation message (then they are not kept in memory).
    await eventually(async () => (await a.getOrLoad('k', () => 0)) === 1 && a.stats.nearHits > 0, 2000, 'near hit')
    await b.set('k', 2)
    await eventually(async () => (await a.getOrLoad('k', () => 0)) === 2, 2000, 'new value seen')
    await b.delete('k')
    await eventually(async () => (await a.get('k')) === undefined, 2000, 'delete seen')
  })

  it('reloadOnExpire reloads an entry when it expires', async () => {
    let version = 0
    const cache = rk.cache<number>(name(), { ttlMs: 300, jitter: 0, reloadOnExpire: true, loader: async () => ++version })
    expect(await cache.getOrLoad('k', async () => ++version)).toBe(1)
    await eventually(() => version >= 2, 5000, 'reload on expiry')
    await eventually(async () => (await cache.get('k')) === 2, 2000, 'reloaded value stored')
  })

  it('emits typed events and counts hits and misses', async () => {
    const cache = rk.cache<number>(name())
    const seen: string[] = []
    cache.on('miss', (e) => seen.push(`miss:${e.key}`))
    cache.on('load', (e) => seen.push(`load:${e.key}:${e.error ? 'error' : 'ok'}`))
    cache.on('hit', (e) => seen.push(`hit:${e.key}:${e.layer}`))
    cache.on('invalidate', (e) => seen.push(`invalidate:${e.keys?.join(',')}:${e.reason}`))
    await cache.getOrLoad('a', () => 1)
    await cache.getOrLoad('a', () => 1)
    await cache.getOrLoad('b', () => Promise.reject(new Error('no'))).catch(() => {})
    await cache.delete('a')
    expect(seen).toEqual(['miss:a', 'load:a:ok', 'hit:a:redis', 'miss:b', 'load:b:error', 'invalidate:a:delete'])
    expect(cache.stats).toMatchObject({ hits: 1, misses: 2, loads: 1, loadErrors: 1, nearHits: 0 })
  })

  it('bloom filters: bulk add and check in one round trip per 1,000 items; the first size wins', async () => {
    const filterName = `${name()}-bloom`
    const bloom = rk.bloom(filterName, { expectedItems: 10_000, falsePositiveRate: 0.01 })
    const items = Array.from({ length: 3000 }, (_, i) => `item-${i}`)
    expect((await bloom.addMany(items)).filter(Boolean).length).toBeGreaterThan(2990)
    expect(await bloom.add('item-1')).toBe(false)
    expect((await bloom.mightContainMany(items)).every(Boolean)).toBe(true)
    const absent = await bloom.mightContainMany(Array.from({ length: 3000 }, (_, i) => `other-${i}`))
    expect(absent.filter(Boolean).length).toBeLessThan(60)
    // Another process with other options adopts the recorded size, so it sees the same items.
    const other2 = other.bloom(filterName, { expectedItems: 10, falsePositiveRate: 0.5 })
    expect(await other2.size()).toEqual(await bloom.size())
    expect(await other2.mightContain('item-2999')).toBe(true)
    await bloom.clear()
    expect(await bloom.mightContain('item-1')).toBe(false)
    await bloom.destroy()
  })

  it('getOrLoad, refresh and wrap refuse a bad per-call ttlMs or tags before loading, and store nothing (review 12 finding 7)', async () => {
    const cacheName = name()
    const cache = rk.cache<number>(cacheName)
    let calls = 0
    const loader = async () => ++calls
    for (const ttlMs of [Number.NaN, Number.POSITIVE_INFINITY, 1e300, 1.5, -1, 0, '100']) {
      const options = { ttlMs: ttlMs as number }
      expect(await errorCode(cache.getOrLoad('k', loader, options)), String(ttlMs)).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(cache.refresh('k', loader, options)), String(ttlMs)).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(cache.wrap(loader, () => 'k', options)()), String(ttlMs)).toBe('E_INVALID_ARGUMENT')
    }
    expect(await errorCode(cache.getOrLoad('k', loader, { tags: 'team' as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(cache.getOrLoad('k', loader, { tags: ['\uD800'] }))).toBe('E_INVALID_KEY')
    expect(calls).toBe(0)
    expect(await raw.get(`${prefix}:cache:{${cacheName}:k}`)).toBeNull()
    // Good options load and store.
    expect(await cache.getOrLoad('k', loader, { ttlMs: 60_000, tags: ['team'] })).toBe(1)
    expect(await cache.get('k')).toBe(1)
  })

  it('validates keys and options', async () => {
    const cache = rk.cache<number>(name())
    expect(await errorCode(cache.get(''))).toBe('E_INVALID_KEY')
    expect(await errorCode(cache.getOrLoad('a\nb', () => 1))).toBe('E_INVALID_KEY')
    expect(await errorCode(cache.set('k', undefined as unknown as number))).toBe('E_INVALID_ARGUMENT')
    expect(() => rk.cache('bad:name')).toThrow(/':'/)
    expect(() => rk.cache(name(), { ttlMs: -1 })).toThrow(/ttlMs/)
    expect(() => rk.cache(name(), { jitter: 2 })).toThrow(/jitter/)
    expect(() => rk.cache(name(), { refreshAhead: 1 })).toThrow(/refreshAhead/)
    expect(() => rk.cache(name(), { stampede: 'global' as 'local' })).toThrow(/stampede/)
    expect(() => rk.cache(name(), { reloadOnExpire: true })).toThrow(/loader/)
    // A bad backoff is refused at construction, not inside every retry (review 12 finding 17).
    for (const backoff of [{ delayMs: -5 }, { delayMs: 10, maxDelayMs: Number.NaN }])
      expect(
        () => rk.cache(name(), { write: 'behind', writer: () => {}, writeBehind: { backoff, drain: false } }),
        JSON.stringify(backoff),
      ).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }))
  })

  it('live dataset: every instance reloads once per newer version; duplicates and old versions are ignored', async () => {
    const dataset = name()
    let version = 0
    let loads = 0
    const load = async () => {
      loads++
      await sleep(50)
      return { products: [`p${version}`], version }
    }
    const a = rk.liveDataset(dataset, { load })
    const b = other.liveDataset(dataset, { load })
    const [first, second] = await Promise.all([a.ready(), b.ready()])
    expect(first).toEqual({ products: ['p0'], version: 0 })
    expect(second).toEqual(first)
    expect(loads).toBe(1)
    const updates: number[] = []
    b.on('update', (u) => updates.push(u.version))
    version = 3
    expect(await a.publishUpdate(3)).toBe(true)
    await eventually(() => a.version === 3 && b.version === 3, 5000, 'both at version 3')
    expect(b.value).toEqual({ products: ['p3'], version: 3 })
    expect(loads).toBe(2)
    expect(await b.publishUpdate(3)).toBe(false)
    expect(await b.publishUpdate(2)).toBe(false)
    await sleep(200)
    expect(loads).toBe(2)
    expect(updates).toEqual([3])
    await Promise.all([a.close(), b.close()])
  })

  it('live dataset: a failed load keeps the previous dataset, reports it, and is retried', async () => {
    const dataset = name()
    let fail = true
    let version = 0
    const load = async () => {
      if (fail) throw new Error('catalogue database down')
      return { version }
    }
    const a = rk.liveDataset(dataset, { load })
    expect(await errorCode(a.ready())).toBe('not a RedkitError: Error: catalogue database down')
    fail = false
    expect(await a.ready()).toEqual({ version: 0 })
    const errors: string[] = []
    a.on('error', (e) => errors.push(e.message))
    fail = true
    await a.publishUpdate(1)
    await eventually(() => errors.length > 0, 5000, 'error event')
    expect(a.value).toEqual({ version: 0 })
    fail = false
    version = 2
    await a.publishUpdate(2)
    await eventually(() => a.version === 2, 5000, 'version 2')
    expect(a.value).toEqual({ version: 2 })
    await a.close()
  })

  it.runIf(topology === 'cluster')('spreads entries over every master', async () => {
    const cacheName = name()
    const cache = rk.cache<number>(cacheName)
    await Promise.all(Array.from({ length: 30 }, (_, i) => cache.set(`k${i}`, i)))
    const counts = await Promise.all(
      rk.connection.masters().map((m) => m.send<string[]>(['KEYS', `${prefix}:cache:{${cacheName}:*`]).then((keys) => keys.length)),
    )
    expect(counts.every((c) => c > 0)).toBe(true)
  })
})
