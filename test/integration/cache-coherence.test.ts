import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Cache, CacheOptions } from '../../src/cache/index.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { closeAll, clusterUrls, rawClient, rawCluster, sentinelSetup, standaloneUrl, testPrefix } from '../support/redis.js'
import { EVERY_TOPOLOGY, topologyOptions } from '../support/topology.js'
import { eventually, sleep } from '../support/wait.js'

/** A loader whose calls wait until the test lets them return: the race window, held open. */
function gated<T>(value: (call: number) => T) {
  const calls: Array<{ key: string; signal: AbortSignal | undefined }> = []
  const gates: Array<() => void> = []
  return {
    calls,
    load: (key: string, info?: { signal: AbortSignal }) => {
      const call = calls.push({ key, signal: info?.signal })
      return new Promise<T>((resolve) => gates.push(() => resolve(value(call))))
    },
    /** Lets every waiting call return. */
    release: () => {
      for (const gate of gates.splice(0)) gate()
    },
    started: (n = 1) => eventually(() => calls.length >= n && gates.length > 0, 5000, `loader call ${n}`),
  }
}

const MODES = ['distributed', 'local'] as const

/** Standalone, Cluster and Sentinel: the cache's messages (fills, invalidations) ride pub/sub on each. */
const TOPOLOGIES = EVERY_TOPOLOGY.map((name) => [name, () => topologyOptions(name)] as const)

/** The data nodes a classic subscriber must listen on to hear every message. */
const dataNodeUrls = (topology: (typeof EVERY_TOPOLOGY)[number]) =>
  topology === 'cluster' ? clusterUrls() : [topology === 'sentinel' ? sentinelSetup().masterUrl : standaloneUrl()]

describe.each(TOPOLOGIES)('cache coherence on %s', (topology, options) => {
  let rk: Redkit
  let other: Redkit
  let n = 0
  const name = () => `co${++n}`

  beforeAll(async () => {
    const prefix = testPrefix()
    ;[rk, other] = await Promise.all([createRedkit({ ...options(), prefix }), createRedkit({ ...options(), prefix })])
  })
  afterAll(async () => {
    await Promise.all([rk?.close(), other?.close()])
  })

  describe.each(MODES)('stampede: %s', (stampede) => {
    const make = <T>(extra: CacheOptions<T> = {}, on: Redkit = rk, cacheName = name()): Cache<T> =>
      on.cache<T>(cacheName, { stampede, jitter: 0, ...extra })

    it('a timed-out loader is aborted and still counts as in flight: no second loader until it settles', async () => {
      const cache = make<string>({ loadTimeoutMs: 300 })
      const loader = gated((call) => `v${call}`)
      expect(await errorCode(cache.getOrLoad('k', loader.load))).toBe('E_TIMEOUT')
      expect(loader.calls[0]?.signal?.aborted).toBe(true)
      const second = cache.getOrLoad('k', loader.load)
      await sleep(150)
      expect(loader.calls).toHaveLength(1)
      loader.release()
      await loader.started(2)
      loader.release()
      expect(await second).toBe('v2')
    })

    it('a delete during a load voids it: the old value is not written back (the caller still gets it)', async () => {
      const cache = make<string>()
      const loader = gated(() => 'old')
      const pending = cache.getOrLoad('k', loader.load)
      await loader.started()
      await cache.delete('k')
      loader.release()
      expect(await pending).toBe('old')
      const next = gated(() => 'new')
      const reread = cache.getOrLoad('k', next.load)
      await next.started()
      next.release()
      expect(await reread).toBe('new')
    })

    it('a delete from another process voids a load in flight here', async () => {
      const cacheName = name()
      const cache = make<string>({}, rk, cacheName)
      const remote = make<string>({}, other, cacheName)
      const loader = gated(() => 'old')
      const pending = cache.getOrLoad('k', loader.load)
      await loader.started()
      await remote.delete('k')
      loader.release()
      expect(await pending).toBe('old')
      expect(await remote.get('k')).toBeUndefined()
    })

    it('a set during a load wins over the loaded value', async () => {
      const cache = make<string>()
      const loader = gated(() => 'loaded')
      const pending = cache.getOrLoad('k', loader.load)
      await loader.started()
      await cache.set('k', 'written')
      loader.release()
      expect(await pending).toBe('loaded')
      expect(await cache.get('k')).toBe('written')
    })

    it('invalidateTags during a refresh voids it', async () => {
      const cache = make<string>()
      await cache.set('k', 'v1', { tags: ['t'] })
      const loader = gated(() => 'old')
      const pending = cache.refresh('k', loader.load, { tags: ['t'] })
      await loader.started()
      expect(await cache.invalidateTags(['t'])).toBe(1)
      loader.release()
      expect(await pending).toBe('old')
      expect(await cache.get('k')).toBeUndefined()
    })

    it('invalidateTags voids the first load of a key under that tag (not yet in the tag index) (review 12 finding 1)', async () => {
      const cache = make<string>()
      let db = 'old'
      const loader = gated(() => 'old')
      const pending = cache.getOrLoad('k', loader.load, { tags: ['team'] })
      await loader.started()
      db = 'new'
      await cache.invalidateTags(['team'])
      loader.release()
      expect(await pending).toBe('old')
      expect(await cache.get('k'), `db is ${db}`).toBeUndefined()
      // Without an invalidation the load is stored, under its tag.
      const next = gated(() => 'new')
      const reread = cache.getOrLoad('k', next.load, { tags: ['team'] })
      await next.started()
      next.release()
      expect(await reread).toBe('new')
      expect(await cache.get('k')).toBe('new')
      expect(await cache.invalidateTags(['team'])).toBe(1)
    })

    it('misses of keys that do not exist write nothing to their tag sets (review 12 finding 24)', async () => {
      const cacheName = name()
      const cache = make<string>({}, rk, cacheName)
      for (let i = 0; i < 50; i++)
        expect(await cache.getOrLoad(`absent${i}`, async () => undefined, { tags: ['products'] })).toBeUndefined()
      const tagSet = `${rk.keys.prefix}:{${cacheName}#tag:products}`
      expect(await rk.connection.send<number>(['SCARD', tagSet], { key: tagSet })).toBe(0)
      expect(await cache.getOrLoad('real', async () => 'v', { tags: ['products'] })).toBe('v')
      expect(await rk.connection.send<number>(['SCARD', tagSet], { key: tagSet })).toBe(1)
      expect(await cache.invalidateTags(['products'])).toBe(1)
    })

    it('a void outlives the loss of the lease version (flushed, evicted, restarted without data) (review 12 finding 3)', async () => {
      const cacheName = name()
      const cache = make<string>({}, rk, cacheName)
      for (const lost of ['version', 'version and lock'] as const) {
        const loader = gated(() => 'old')
        const pending = cache.getOrLoad('k', loader.load)
        await loader.started()
        await cache.delete('k')
        // What FLUSHALL, an eviction or a restart without data does to the keys of this entry.
        const version = `${rk.keys.prefix}:cache-ver:{${cacheName}:k}`
        const lock = `${rk.keys.prefix}:cache-lock:{${cacheName}:k}`
        await rk.connection.send(lost === 'version' ? ['DEL', version] : ['DEL', version, lock], { key: version })
        loader.release()
        expect(await pending).toBe('old')
        expect(await cache.get('k'), `${lost} lost`).toBeUndefined()
      }
      // A load with nothing lost still stores.
      expect(await cache.getOrLoad('k', async () => 'new')).toBe('new')
      expect(await cache.get('k')).toBe('new')
    })

    it('concurrent write-through sets of one key leave the cache agreeing with the source, whichever write lands last', async () => {
      // A write whose commit is acknowledged late: it lands in the source early or late, and its
      // cache write comes after the other set's, either way.
      for (const lands of ['early', 'late'] as const) {
        const source = new Map<string, string>()
        let gate: () => void = () => {}
        const held = new Promise<void>((resolve) => (gate = resolve))
        const writer = {
          write: async (key: string, value: string) => {
            if (value === 'slow' && lands === 'early') source.set(key, value)
            if (value === 'slow') await held
            if (value === 'slow' && lands === 'late') source.set(key, value)
            if (value !== 'slow') source.set(key, value)
          },
        }
        const cache = make<string>({ write: 'through', writer })
        const slow = cache.set('k', 'slow')
        await sleep(20)
        await cache.set('k', 'fast')
        gate()
        await slow
        const cached = await cache.get('k')
        expect(cached === undefined || cached === source.get('k'), `lands ${lands}: cache ${cached}, source ${source.get('k')}`).toBe(true)
        expect(await cache.getOrLoad('k', async (key) => source.get(key)), `lands ${lands}`).toBe(source.get('k'))
      }
    })

    it('a stale-while-revalidate refresh does not overwrite a newer set', async () => {
      const cache = make<string>({ ttlMs: 100, staleWhileRevalidateMs: 10_000 })
      await cache.set('k', 'v1')
      await sleep(150)
      const loader = gated(() => 'refreshed-from-old-source')
      const refreshed = new Promise((resolve) => cache.once('refresh', resolve))
      expect(await cache.getOrLoad('k', loader.load)).toBe('v1') // stale, refresh starts
      await loader.started()
      await cache.set('k', 'v2')
      loader.release()
      await refreshed
      expect(await cache.get('k')).toBe('v2')
    })
  })

  it('its keys are unambiguous: an object named <cache>:... is not deleted by a planted tag set', async () => {
    const cacheName = name()
    const cache = rk.cache<string>(cacheName, { ttlMs: 60_000, near: { ttlMs: 60_000 } })
    await cache.set('k', 'v', { tags: ['t'] })
    // Another object whose name starts with the cache's, and a key an application wrote by hand.
    const prefix = rk.keys.prefix
    const victims = [rk.keys.key(`${cacheName}:victim`), rk.keys.key(`${cacheName}:jobs`, 'ready')]
    const tag = `${prefix}:{${cacheName}#tag:t}`
    for (const victim of victims) {
      await rk.connection.send(['SET', victim, 'keep'], { key: victim })
      // A tag index planted with it (or left by an older version): invalidateTags must not follow it.
      await rk.connection.send(['SADD', tag, victim], { key: tag })
    }
    await cache.invalidateTags(['t'])
    expect(await cache.get('k')).toBeUndefined()
    for (const victim of victims) expect(await rk.connection.send(['GET', victim], { key: victim }), victim).toBe('keep')
  })

  it('its messages are sharded on Cluster (SPUBLISH: only the channel’s shard hears them), classic PUBLISH elsewhere', async () => {
    const cacheName = name()
    const channel = rk.keys.key(cacheName, 'events')
    const cache = rk.cache<string>(cacheName, { ttlMs: 60_000, stampede: 'distributed' })
    const peer = other.cache<string>(cacheName, { ttlMs: 60_000, stampede: 'distributed' })
    // A classic subscriber on every node, and a sharded one on the channel's shard.
    const classic: string[] = []
    const sharded: string[] = []
    const nodes = await Promise.all(dataNodeUrls(topology).map((url) => rawClient(url)))
    const subscribers = await Promise.all(nodes.map((node) => node.duplicate().connect()))
    const shard = topology === 'cluster' ? await rawCluster() : undefined
    try {
      for (const subscriber of subscribers) await subscriber.subscribe(channel, (text) => void classic.push(text))
      await shard?.sSubscribe(channel, (text) => void sharded.push(text))
      // A fill a waiter in another process hears, a set's and a delete's invalidations, a failed load.
      const loader = gated(() => 'v')
      const first = cache.getOrLoad('k', loader.load)
      await loader.started()
      const waiting = peer.getOrLoad('k', async () => 'not called')
      await sleep(50)
      loader.release()
      expect(await first).toBe('v')
      expect(await waiting).toBe('v')
      await cache.set('k', 'v2')
      await cache.delete('k')
      await expect(cache.getOrLoad('f', async () => Promise.reject(new Error('down')))).rejects.toThrow('down')
      await eventually(() => (topology === 'cluster' ? sharded : classic).length >= 4, 5000, 'cache messages')
      if (topology === 'cluster') {
        await sleep(200)
        expect(classic, 'a classic subscriber heard a cache message: it was broadcast').toEqual([])
      }
    } finally {
      await closeAll(...subscribers, ...nodes, shard)
    }
  })
})
