/**
 * redkit cache against bentocache and cache-manager (keyv + @keyv/redis), on the same throwaway Redis:
 * - hit throughput, 100 concurrent callers over 1,000 warm keys (~100-byte JSON objects), in
 *   interleaved slices with a raw node-redis GET as the ceiling: redkit `getOrLoad` (Redis only),
 *   bentocache `getOrSet` (Redis L2 only), cache-manager `wrap`; then the in-process tiers: redkit
 *   `getOrLoad` with the near cache, bentocache `get` with a memory L1 (serialize: false, its fastest)
 *   + Redis L2 + bus;
 * - stampede: 4 instances (separate connections, as separate processes would have) each make 250
 *   concurrent calls on one cold key: loader calls of redkit (distributed) and bentocache;
 * - near-cache invalidation latency after an external `SET` (redis-cli style).
 */

import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache } from 'cache-manager'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { createClient } from 'redis'
import { createRedkit, type Redkit } from '../src/index.js'
import { closedLoopSubject, interleave, logSlice, recordInterleave, recordPairRatio, sliceTiming } from './lib/interleave.js'
import { defineBenchmark } from './lib/types.js'

const CONCURRENCY = 100
const KEYS = 1000
const TTL_MS = 3_600_000

interface User {
  id: number
  name: string
  email: string
  roles: string[]
  active: boolean
}

const userOf = (i: number): User => ({ id: i, name: `user-${i}`, email: `user-${i}@example.com`, roles: ['reader'], active: true })

export default defineBenchmark({
  name: 'cache',
  description: 'redkit cache vs bentocache and cache-manager: hit throughput (Redis and near tier), stampede, near invalidation latency',
  async run(ctx) {
    const { sliceMs, warmupMs, rounds } = sliceTiming(ctx)
    const url = ctx.redisUrl
    const { hostname: host, port } = new URL(url)
    const params = { concurrency: CONCURRENCY, keys: KEYS, valueBytes: JSON.stringify(userOf(999)).length, sliceMs, rounds }
    const keys = Array.from({ length: KEYS }, (_, i) => `u${i}`)
    const load = async (key: string) => userOf(Number(key.slice(1)))

    const raw = createClient({ url, commandOptions: { timeout: 0 } })
    raw.on('error', () => {})
    const rk = await createRedkit({ url, prefix: 'bench' })
    const closers: Array<() => Promise<unknown> | unknown> = [() => raw.destroy(), () => rk.close()]
    try {
      await raw.connect()
      const rawKeys = keys.map((k) => `raw:${k}`)
      await Promise.all(rawKeys.map((k, i) => raw.set(k, JSON.stringify(userOf(i)))))

      // redkit, Redis only (the default options: distributed stampede, jitter) and with the near cache.
      const redkitCache = rk.cache<User>('users', { ttlMs: TTL_MS })
      const redkitNear = rk.cache<User>('users-near', { ttlMs: TTL_MS, near: { maxEntries: 10_000, ttlMs: TTL_MS } })
      await Promise.all(keys.map((k) => redkitCache.getOrLoad(k, load)))
      while (!redkitNear.nearReady) await new Promise((r) => setTimeout(r, 10))

      // bentocache: Redis L2 only, and tiered (memory L1 + Redis L2 + Redis bus).
      const ioL2 = new Redis({ host, port: Number(port), lazyConnect: false })
      const ioTiered = new Redis({ host, port: Number(port) })
      closers.push(
        () => ioL2.disconnect(),
        () => ioTiered.disconnect(),
      )
      const bentoL2 = new BentoCache({
        default: 'l2',
        stores: { l2: bentostore().useL2Layer(redisDriver({ connection: ioL2, prefix: 'bento-l2' })) },
      })
      const bentoTiered = new BentoCache({
        default: 'tiered',
        stores: {
          tiered: bentostore()
            .useL1Layer(memoryDriver({ maxItems: 10_000, serialize: false }))
            .useL2Layer(redisDriver({ connection: ioTiered, prefix: 'bento-tiered' }))
            .useBus(redisBusDriver({ connection: { host, port: Number(port) } })),
        },
      })
      closers.push(
        () => bentoL2.disconnect(),
        () => bentoTiered.disconnect(),
      )
      await Promise.all(keys.map((key) => bentoL2.getOrSet({ key, factory: () => load(key), ttl: TTL_MS })))
      await Promise.all(keys.map((key) => bentoTiered.getOrSet({ key, factory: () => load(key), ttl: TTL_MS })))

      // cache-manager 7 over keyv + @keyv/redis.
      const keyv = new Keyv({ store: new KeyvRedis(url), namespace: 'cm' })
      const cm = createCache({ stores: [keyv] })
      closers.push(() => cm.disconnect())
      await Promise.all(keys.map((key) => cm.wrap(key, () => load(key), TTL_MS)))
      ctx.log(`warmed ${KEYS} keys per subject; slices of ${sliceMs} ms, ${rounds} rounds, concurrency ${CONCURRENCY}`)

      const subject = (name: string, op: (seq: number) => Promise<unknown>, extra: Record<string, unknown>) =>
        closedLoopSubject(name, op, { concurrency: CONCURRENCY, sliceMs, warmupMs, signal: ctx.signal, params: extra })
      const RAW = 'node-redis GET (raw ceiling)'
      const REDKIT = 'redkit getOrLoad (Redis)'
      const BENTO = 'bentocache getOrSet (Redis L2)'
      const CM = 'cache-manager wrap (keyv + @keyv/redis)'
      const REDKIT_NEAR = 'redkit getOrLoad (near cache)'
      const BENTO_TIERED = 'bentocache get (memory L1 + Redis L2)'
      const subjects = [
        subject(RAW, (seq) => raw.get(rawKeys[seq % KEYS] as string), { client: 'node-redis 6, timeout 0, no decode' }),
        subject(REDKIT, (seq) => redkitCache.getOrLoad(keys[seq % KEYS] as string, load), { client: 'node-redis 6' }),
        subject(BENTO, (seq) => bentoL2.getOrSet({ key: keys[seq % KEYS] as string, factory: () => load(keys[seq % KEYS] as string) }), {
          client: 'ioredis 5',
        }),
        subject(CM, (seq) => cm.wrap(keys[seq % KEYS] as string, () => load(keys[seq % KEYS] as string), TTL_MS), {
          client: '@redis/client 5',
        }),
        subject(REDKIT_NEAR, (seq) => redkitNear.getOrLoad(keys[seq % KEYS] as string, load), { tier: 'near' }),
        subject(BENTO_TIERED, (seq) => bentoTiered.get({ key: keys[seq % KEYS] as string }), { tier: 'L1' }),
      ]
      const result = await interleave(subjects, {
        rounds,
        baseline: RAW,
        ratioOf: ['ops/s'],
        signal: ctx.signal,
        onSlice: logSlice(ctx),
      })
      recordInterleave(ctx, result, { units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', 'cpu µs/op': 'µs' }, params })
      const pairRatio = (name: string, against: string[], label: string) => recordPairRatio(ctx, result, name, against, label, params)
      pairRatio(REDKIT, [BENTO, CM], 'best peer')
      pairRatio(REDKIT, [BENTO], 'bentocache')
      pairRatio(REDKIT, [CM], 'cache-manager')
      pairRatio(REDKIT_NEAR, [BENTO_TIERED], 'bentocache tiered')

      if (!ctx.signal.aborted) await stampede(ctx, url, host, Number(port))
      if (!ctx.signal.aborted) await invalidationLatency(ctx, rk, raw)
    } finally {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {})
    }
  },
})

/** 4 instances x 250 concurrent calls on a cold key: how many loader calls? */
async function stampede(ctx: Parameters<Parameters<typeof defineBenchmark>[0]['run']>[0], url: string, host: string, port: number) {
  const INSTANCES = 4
  const CALLS = 250
  let redkitLoads = 0
  const instances = await Promise.all(Array.from({ length: INSTANCES }, () => createRedkit({ url, prefix: 'stampede' })))
  try {
    const caches = instances.map((rk) => rk.cache<number>('hot'))
    await Promise.all(caches.map((c) => c.getOrLoad('warm-up', async () => 0)))
    const loader = async () => {
      redkitLoads++
      await new Promise((r) => setTimeout(r, 100))
      return 1
    }
    await Promise.all(caches.flatMap((c) => Array.from({ length: CALLS }, () => c.getOrLoad('cold', loader))))
  } finally {
    await Promise.all(instances.map((rk) => rk.close()))
  }
  let bentoLoads = 0
  const bentos = Array.from({ length: INSTANCES }, () => {
    const io = new Redis({ host, port })
    return {
      io,
      cache: new BentoCache({
        default: 'c',
        stores: { c: bentostore().useL2Layer(redisDriver({ connection: io, prefix: 'bento-stampede' })) },
      }),
    }
  })
  try {
    const factory = async () => {
      bentoLoads++
      await new Promise((r) => setTimeout(r, 100))
      return 1
    }
    await Promise.all(bentos.flatMap((b) => Array.from({ length: CALLS }, () => b.cache.getOrSet({ key: 'cold', factory }))))
  } finally {
    for (const b of bentos) {
      await b.cache.disconnect().catch(() => {})
      b.io.disconnect()
    }
  }
  const params = { instances: INSTANCES, callsPerInstance: CALLS, loaderMs: 100 }
  ctx.record({ subject: 'redkit getOrLoad (distributed stampede)', metric: 'loader calls', value: redkitLoads, unit: '', params })
  ctx.record({ subject: 'bentocache getOrSet', metric: 'loader calls', value: bentoLoads, unit: '', params })
  ctx.log(`stampede, ${INSTANCES} x ${CALLS} calls on a cold key: redkit ${redkitLoads} loader call(s), bentocache ${bentoLoads}`)
}

/** Time from an external SET (another client, like redis-cli) to the near copy's eviction. */
async function invalidationLatency(
  ctx: Parameters<Parameters<typeof defineBenchmark>[0]['run']>[0],
  rk: Redkit,
  raw: { sendCommand(args: string[]): Promise<unknown> },
) {
  const cache = rk.cache<number>('latency', { near: { maxEntries: 1000 } })
  while (!cache.nearReady) await new Promise((r) => setTimeout(r, 10))
  const samples = ctx.quick ? 100 : 500
  const latencies: number[] = []
  for (let i = 0; i < samples && !ctx.signal.aborted; i++) {
    const key = `k${i % 50}`
    await cache.set(key, i)
    // Read until the copy is in memory (a read racing the set's own invalidation is not kept).
    for (let tries = 0; tries < 100 && (await cache.getOrLoad(key, async () => -1)) !== undefined; tries++) {
      const before = cache.stats.nearHits
      await cache.getOrLoad(key, async () => -1)
      if (cache.stats.nearHits > before) break
    }
    const evicted = new Promise<number>((resolve) => {
      const onInvalidate = (e: { keys: string[] | undefined }) => {
        if (e.keys?.includes(key)) {
          cache.off('invalidate', onInvalidate)
          resolve(performance.now())
        }
      }
      cache.on('invalidate', onInvalidate)
    })
    const start = performance.now()
    const now = Date.now()
    await raw.sendCommand(['SET', `bench:cache:{latency:${key}}`, `j${now}:${now + 60_000}|${i + 1}`])
    latencies.push((await evicted) - start)
  }
  latencies.sort((a, b) => a - b)
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] as number
  const params = { samples: latencies.length, writer: 'separate node-redis client (SET)' }
  ctx.record({ subject: 'redkit near-cache invalidation', metric: 'p50', value: at(50), unit: 'ms', params })
  ctx.record({ subject: 'redkit near-cache invalidation', metric: 'p99', value: at(99), unit: 'ms', params })
  ctx.record({ subject: 'redkit near-cache invalidation', metric: 'max', value: latencies.at(-1) ?? Number.NaN, unit: 'ms', params })
  ctx.log(`near-cache invalidation after an external SET: p50 ${at(50).toFixed(2)} ms, p99 ${at(99).toFixed(2)} ms`)
  await cache.close()
}
