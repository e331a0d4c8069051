import type { ChildProcess } from 'node:child_process'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer } from '../../packages/server/src/redis-process.js'
import type { FallbackEvent } from '../../src/cache/index.js'
import { scripts } from '../../src/cache/scripts.js'
import { createRedkit, type Redkit, type RedkitError } from '../../src/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { startChild, stopChild } from '../support/child.js'
import { errorCode, PROCESS_TOPOLOGIES } from '../support/expect.js'
import { closeAll, rawClient, standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

describe('cache with Redis unreachable', () => {
  it('falls back to the loader with bounded concurrency and an event, never hangs, and recovers', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 1000 })
    rk.on('error', () => {})
    const cache = rk.cache<string>('users', { fallback: { concurrency: 2, maxWaiting: 50 } })
    const strict = rk.cache<string>('strict', { fallback: false })
    const fallbacks: FallbackEvent[] = []
    cache.on('fallback', (e) => fallbacks.push(e))
    cache.on('error', () => {})
    let running = 0
    let peak = 0
    let calls = 0
    const loader = async (key: string) => {
      calls++
      running++
      peak = Math.max(peak, running)
      await sleep(20)
      running--
      return `db:${key}`
    }
    expect(await cache.getOrLoad('warm', loader)).toBe('db:warm')
    calls = 0

    proxy.refuse(true)
    proxy.cut()
    await eventually(() => !rk.connection.isReady, 2000, 'connection down')
    const started = Date.now()
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => cache.getOrLoad(`k${i % 20}`, loader)))
    expect(Date.now() - started).toBeLessThan(3000)
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true)
    // Single flight still applies: 20 distinct keys, 20 loader calls, at most 2 at once.
    expect(calls).toBe(20)
    expect(peak).toBeLessThanOrEqual(2)
    expect(fallbacks.length).toBeGreaterThan(0)
    expect(fallbacks[0]?.error.code).toBe('E_CONNECTION')
    // Beyond the queue, callers get the connection error instead of piling onto the database.
    const flood = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => cache.getOrLoad(`f${i}`, loader)))
    expect(flood.filter((r) => r.status === 'rejected').length).toBeGreaterThan(0)
    expect(await errorCode(strict.getOrLoad('x', loader))).toBe('E_CONNECTION')

    proxy.refuse(false)
    await eventually(() => rk.connection.isReady, 5000, 'reconnected')
    calls = 0
    expect(await cache.getOrLoad('warm', loader)).toBe('db:warm')
    expect(calls).toBe(0)
    await rk.close()
    await proxy.close()
  }, 30_000)

  it('flushes the near cache when the connection drops, and serves from memory again once back', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 1000 })
    rk.on('error', () => {})
    const cache = rk.cache<number>('near', { near: { maxEntries: 10 } })
    cache.on('error', () => {})
    await eventually(() => cache.nearReady, 5000, 'near ready')
    await cache.set('k', 1)
    await eventually(async () => (await cache.getOrLoad('k', () => 0)) === 1 && cache.nearSize === 1, 2000, 'near filled')
    proxy.cut()
    await eventually(() => cache.nearSize === 0, 2000, 'near flushed')
    await eventually(() => cache.nearReady && rk.connection.isReady, 5000, 'near trusted again')
    await eventually(async () => (await cache.getOrLoad('k', () => 0)) === 1 && cache.nearSize === 1, 2000, 'near refilled')
    await rk.close()
    await proxy.close()
  }, 30_000)

  it('a server with CLIENT disabled (managed services): the near cache stays off, says why, and reads go to Redis', async () => {
    const server = await startRedisServer({ args: ['--rename-command', 'CLIENT', ''] })
    const rk = await createRedkit({ url: server.url, prefix: testPrefix(), connectTimeoutMs: 1000 })
    try {
      const errors: RedkitError[] = []
      const cache = rk.cache<number>('no-client', { near: { maxEntries: 10 } })
      cache.on('error', (e) => errors.push(e))
      await cache.set('k', 1)
      // The cause, not just "cannot connect in time": node-redis's handshake sends CLIENT TRACKING.
      await eventually(() => errors.some((e) => /CLIENT/.test(e.message)), 5000, 'the near cache reports what it needs')
      expect(cache.nearReady).toBe(false)
      expect(await cache.getOrLoad('k', () => 0)).toBe(1)
      expect(cache.nearSize).toBe(0)
    } finally {
      await rk.close()
      await server.stop()
    }
  }, 30_000)

  it('an invalidation that arrives before the lock script’s reply keeps that reply out of the near cache', async () => {
    // The waiter's connections (commands, pub/sub, tracking) go through a proxy; the loader's and
    // the writer's do not. With the proxy slow, the waiter's lock script runs on the server and its
    // reply (the loaded value) is held back; a write made then is pushed to the tracking connection
    // with the proxy fast again, so its invalidation overtakes the reply.
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const prefix = testPrefix()
    const waiterRk = await createRedkit({ url: proxy.url, prefix, connectTimeoutMs: 5000 })
    const loaderRk = await createRedkit({ url: standaloneUrl(), prefix })
    const writer = await rawClient()
    const monitor = await rawClient()
    try {
      const waiter = waiterRk.cache<string>('epoch', { ttlMs: 60_000, near: { maxEntries: 10 }, stampede: 'distributed' })
      const loader = loaderRk.cache<string>('epoch', { ttlMs: 60_000, stampede: 'distributed' })
      await eventually(() => waiter.nearReady, 5000, 'near ready')
      let release: (value: string) => void = () => {}
      const loading = loader.getOrLoad('k', () => new Promise<string>((resolve) => (release = resolve)))
      await sleep(100)
      const waiting = waiter.getOrLoad('k', async () => 'never called')
      await sleep(200) // the waiter's first lock script found the lock taken: it waits for the fill
      const lockSha = scripts.lock.source.sha
      let scriptRan: () => void = () => {}
      const ran = new Promise<void>((resolve) => (scriptRan = resolve))
      await monitor.monitor((line) => {
        if (line.includes(lockSha)) scriptRan()
      })
      proxy.setLatency(400)
      release('v1')
      expect(await loading).toBe('v1')
      await ran // the waiter heard the fill (slowly) and its lock script ran; its reply is on its way
      proxy.setLatency(0)
      const now = Date.now()
      await writer.set(`${prefix}:cache:{epoch:k}`, `j${now}:${now + 60_000}|"v2"`)
      expect(await waiting).toBe('v1') // what the script read; the caller gets it
      await sleep(100)
      expect(await waiter.get('k'), 'the near cache kept the value the write replaced').toBe('v2')
    } finally {
      await closeAll(monitor, writer)
      await Promise.all([waiterRk.close(), loaderRk.close()])
      await proxy.close()
    }
  }, 30_000)
})

describe.each(PROCESS_TOPOLOGIES)('cache bad input on %s', (_topology, options, env) => {
  let rk: Redkit
  let prefix: string
  const children: ChildProcess[] = []

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => stopChild(child)))
  })

  it('an undecodable cached value is a miss, reported, and replaced by the loader', async () => {
    const cache = rk.cache<{ ok: boolean }>('decode')
    const errors: RedkitError[] = []
    cache.on('error', (e) => errors.push(e))
    const raw = rk.connection
    for (const [key, text] of [
      ['foreign', 'written by another program'],
      ['corrupt', `j1:${9e15}|{"broken`],
    ] as const) {
      const redisKey = `${prefix}:cache:{decode:${key}}`
      await raw.send(['SET', redisKey, text], { key: redisKey })
      expect(await cache.get(key)).toBeUndefined()
      expect(await cache.getOrLoad(key, async () => ({ ok: true }))).toEqual({ ok: true })
      expect(await cache.get(key)).toEqual({ ok: true })
    }
    expect(errors.map((e) => e.code)).toContain('E_DECODE')
    expect(errors.length).toBeGreaterThanOrEqual(2)
  })

  it('a non-serializable value is refused at set with E_ENCODE; a loaded one is returned but not cached', async () => {
    const cache = rk.cache<unknown>('encode')
    const errors: RedkitError[] = []
    cache.on('error', (e) => errors.push(e))
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [{ fn: () => 1 }, new Map([[1, 2]]), cyclic, Number.NaN, Symbol('s')]) {
      expect(await errorCode(cache.set('k', bad))).toBe('E_ENCODE')
    }
    expect(await cache.get('k')).toBeUndefined()
    const value = new Set([1])
    expect(await cache.getOrLoad('loaded', async () => value)).toBe(value)
    expect(errors.some((e) => e.code === 'E_ENCODE')).toBe(true)
    expect(await cache.get('loaded')).toBeUndefined()
  })

  it('values larger than maxValueBytes are refused with E_TOO_LARGE', async () => {
    const cache = rk.cache<string>('size', { maxValueBytes: 1000 })
    cache.on('error', () => {})
    expect(await errorCode(cache.set('big', 'x'.repeat(2000)))).toBe('E_TOO_LARGE')
    expect(await errorCode(cache.set('multibyte', 'é'.repeat(600)))).toBe('E_TOO_LARGE')
    await cache.set('small', 'x'.repeat(900))
    expect(await cache.get('small')).toHaveLength(900)
    expect(await cache.getOrLoad('loaded', async () => 'y'.repeat(5000))).toHaveLength(5000)
    expect(await cache.get('loaded')).toBeUndefined()
  })

  it('a process killed with write-behind writes pending loses none of them', async () => {
    const name = 'wb-crash'
    const writes = 200
    const child = await startChild('test/fixtures/cache-writer.ts', {
      ...env(),
      REDKIT_PREFIX: prefix,
      CACHE_NAME: name,
      WRITES: String(writes),
    })
    children.push(child)
    await stopChild(child, 'SIGKILL')
    const source = new Map<string, number>()
    const survivor = rk.cache<number>(name, {
      write: 'behind',
      writer: (key, value) => void source.set(key, value),
      writeBehind: { claimIdleMs: 500 },
    })
    await eventually(() => source.size === writes, 10_000, `all ${writes} writes applied (got ${source.size})`)
    for (let i = 0; i < writes; i++) expect(source.get(`k${i}`)).toBe(i)
    await eventually(async () => (await survivor.pendingWrites()) === 0, 5000, 'stream empty')
    await survivor.close()
  }, 30_000)

  it('a writer that keeps failing sends the write to the dead letters after its attempts', async () => {
    const cache = rk.cache<number>('wb-dead', {
      write: 'behind',
      writer: () => {
        throw new Error('source rejects it')
      },
      writeBehind: { attempts: 3, backoff: { delayMs: 10, maxDelayMs: 20 } },
    })
    const errors: RedkitError[] = []
    cache.on('error', (e) => errors.push(e))
    await cache.set('k', 1)
    await eventually(() => errors.some((e) => /failed 3 times: source rejects it/.test(e.message)), 5000, 'dead letter')
    await eventually(async () => (await cache.pendingWrites()) === 0, 5000, 'stream empty')
    const dead = `${prefix}:{wb-dead}:wb-dead`
    expect(await rk.connection.send(['XLEN', dead], { key: dead })).toBe(1)
    await cache.close()
  })
})

describe('cache near-cache invalidation latency', () => {
  let rk: Redkit
  afterAll(() => rk?.close())

  it('an external write evicts the near copy within 10 ms at p99', async () => {
    const prefix = testPrefix()
    rk = await createRedkit({ url: standaloneUrl(), prefix })
    const raw = await rawClient()
    const cache = rk.cache<number>('latency', { near: { maxEntries: 1000 } })
    await eventually(() => cache.nearReady, 5000, 'near ready')
    const latencies: number[] = []
    for (let i = 0; i < 200; i++) {
      const key = `k${i % 20}`
      await cache.set(key, i)
      await eventually(async () => (await cache.getOrLoad(key, () => -1)) === i && (await cache.getOrLoad(key, () => -1)) === i, 2000)
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
      await raw.sendCommand(['SET', `${prefix}:cache:{latency:${key}}`, `j${Date.now()}:${Date.now() + 60_000}|${i + 1000}`])
      latencies.push((await evicted) - start)
    }
    latencies.sort((a, b) => a - b)
    const p99 = latencies[Math.floor(latencies.length * 0.99) - 1] as number
    expect(p99).toBeLessThan(10)
    await closeAll(raw)
  }, 30_000)
})

describe('cache near-cache tracking health', () => {
  it('cache.close() and rk.close() return within connectTimeoutMs on a frozen Redis once the cache has subscribed (review 12 finding 19)', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 1000 })
    rk.on('error', () => {})
    const cache = rk.cache<number>('close-frozen')
    cache.on('error', () => {})
    expect(await cache.getOrLoad('k', () => 1)).toBe(1) // a distributed miss subscribes to the cache's channel
    proxy.freeze() // every open connection goes silent: no error, no reply
    let started = Date.now()
    await cache.close()
    expect(Date.now() - started).toBeLessThan(3000)
    started = Date.now()
    await rk.close()
    expect(Date.now() - started).toBeLessThan(5000)
    await proxy.close()
  }, 30_000)

  it('a half-open tracking connection stops the near cache serving from memory, and it recovers', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 1000 })
    rk.on('error', () => {})
    const cache = rk.cache<number>('near-health', { near: { maxEntries: 10, healthCheckMs: 200 } })
    cache.on('error', () => {})
    await eventually(() => cache.nearReady, 5000, 'near ready')
    await cache.set('k', 1)
    await eventually(async () => (await cache.getOrLoad('k', () => 0)) === 1 && cache.nearSize === 1, 2000, 'near filled')
    // Bytes stop flowing but no socket closes: invalidations could be lost without anyone noticing.
    proxy.pause()
    await eventually(() => !cache.nearReady && cache.nearSize === 0, 3000, 'near cache off')
    proxy.resume()
    await eventually(() => cache.nearReady, 10_000, 'near trusted again')
    await rk.close()
    await proxy.close()
  }, 30_000)
})
