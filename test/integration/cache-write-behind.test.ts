import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit, type RedkitError } from '../../src/index.js'
import { TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

/** Regression tests of issue 12 item 2: write-behind keeps reads coherent with the writes queued. */
describe.each(TOPOLOGIES)('cache write-behind coherence on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string
  let n = 0
  const name = () => `wb${++n}`
  const del = (key: string) => rk.connection.send(['DEL', key], { key })

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  describe.each(['distributed', 'local'] as const)('stampede: %s', (stampede) => {
    it('read-your-writes: a miss while a write is queued serves the queued value, not the source', async () => {
      const cacheName = name()
      const source = new Map([['k', 'old']])
      const cache = rk.cache<string>(cacheName, {
        stampede,
        write: 'behind',
        writer: { write: (key, value) => void source.set(key, value), delete: (key) => void source.delete(key) },
        writeBehind: { drain: false },
      })
      await cache.set('k', 'new')
      await del(`${prefix}:cache:{${cacheName}:k}`) // evicted (or expired) before the drain ran
      expect(await cache.getOrLoad('k', async (key) => source.get(key))).toBe('new')
      expect(await cache.get('k')).toBe('new')
      await cache.delete('k')
      expect(await cache.getOrLoad('k', async (key) => source.get(key))).toBeUndefined()
    })
  })

  it('a dead letter drops the cached copy (reads agree with the source) and can be replayed', async () => {
    const source = new Map([['k', 'old']])
    let failing = true
    const errors: RedkitError[] = []
    const cache = rk.cache<string>(name(), {
      write: 'behind',
      writer: (key, value) => {
        if (failing) throw new Error('source rejects it')
        source.set(key, value)
      },
      writeBehind: { attempts: 2, backoff: { delayMs: 10, maxDelayMs: 20 } },
    })
    cache.on('error', (e) => errors.push(e))
    await cache.set('k', 'new')
    await eventually(async () => (await cache.deadLetters()).length === 1, 5000, 'dead letter')
    expect((await cache.deadLetters())[0]).toMatchObject({ key: 'k', op: 'set', error: 'source rejects it', attempts: 2 })
    await eventually(
      async () => (await cache.getOrLoad('k', async (key) => source.get(key))) === 'old',
      5000,
      'cache agrees with the source',
    )
    failing = false
    expect(await cache.replayDeadLetters()).toBe(1)
    await eventually(() => source.get('k') === 'new', 5000, 'replayed write applied')
    expect(await cache.deadLetters()).toEqual([])
    await cache.close()
  })

  it('one failing key does not stall the writes queued after it', async () => {
    const source = new Map<string, string>()
    let badCalls = 0
    const cache = rk.cache<string>(name(), {
      write: 'behind',
      writer: (key, value) => {
        if (key === 'bad') {
          badCalls++
          throw new Error('no')
        }
        source.set(key, value)
      },
      writeBehind: { attempts: 5, backoff: { delayMs: 1000, maxDelayMs: 1000 }, flushTimeoutMs: 200 },
    })
    cache.on('error', () => {})
    await cache.set('bad', 'x')
    await eventually(() => badCalls >= 1, 5000, 'first attempt')
    const started = Date.now()
    await cache.set('good', 'y')
    await eventually(() => source.get('good') === 'y', 5000, 'good write applied')
    expect(Date.now() - started).toBeLessThan(1500)
    await cache.close()
  })
})

describe('cache write-behind server checks', () => {
  let server: RedisProcess | undefined
  afterAll(async () => {
    await server?.stop()
  })

  it('reports a Redis that may evict or forget the queued writes', async () => {
    server = await startRedisServer({ args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru'] })
    const rk = await createRedkit({ url: server.url, prefix: testPrefix() })
    const errors: RedkitError[] = []
    const cache = rk.cache<string>('wbcheck', { write: 'behind', writer: () => {} })
    cache.on('error', (e) => errors.push(e))
    await eventually(
      () => errors.some((e) => e.code === 'E_SERVER_CONFIG' && /maxmemory-policy/.test(e.message)),
      5000,
      'eviction reported',
    )
    await eventually(
      () => errors.some((e) => e.code === 'E_SERVER_CONFIG' && /appendonly/.test(e.message)),
      5000,
      'no persistence reported',
    )
    await sleep(100)
    await rk.close()
  })
})
