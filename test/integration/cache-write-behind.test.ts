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

  it('read-your-writes for get: a get miss while a write is queued answers the queued value, not undefined (review 12 finding 22)', async () => {
    const cacheName = name()
    const cache = rk.cache<string>(cacheName, {
      write: 'behind',
      writer: { write: () => {}, delete: () => {} },
      writeBehind: { drain: false },
    })
    await cache.set('k', 'new')
    await del(`${prefix}:cache:{${cacheName}:k}`) // expired (or evicted) before the drain ran
    expect(await cache.get('k')).toBe('new')
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.get('never-written')).toBeUndefined()
    await cache.close()
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

  it('replay skips a dead write whose key was written since (applied or queued), and replays only the newest dead write of a key (review 12 finding 2)', async () => {
    const source = new Map<string, string>()
    let failing = true
    const cache = rk.cache<string>(name(), {
      write: 'behind',
      writer: (key, value) => {
        if (failing) throw new Error('source rejects it')
        source.set(key, value)
      },
      writeBehind: { attempts: 1, backoff: { delayMs: 10, maxDelayMs: 20 } },
    })
    cache.on('error', () => {})
    await cache.set('k', 'v1')
    await cache.set('j', 'j1')
    await eventually(async () => (await cache.deadLetters()).length === 2, 5000, 'dead letters')
    await cache.set('j', 'j2')
    await eventually(async () => (await cache.deadLetters()).length === 3, 5000, 'second dead letter of j')
    failing = false
    // A newer write of k is applied after its dead letter: replaying v1 would overwrite it.
    await cache.set('k', 'v2')
    await eventually(async () => source.get('k') === 'v2' && (await cache.pendingWrites()) === 0, 5000, 'v2 applied')
    expect(await cache.replayDeadLetters()).toBe(1)
    await eventually(async () => (await cache.pendingWrites()) === 0, 5000, 'replay applied')
    expect(source.get('k')).toBe('v2')
    expect(source.get('j')).toBe('j2')
    expect(await cache.get('k')).toBe('v2')
    expect(await cache.deadLetters()).toEqual([])
    await cache.close()
  })

  it('close() returns within flushTimeoutMs while a writer call hangs; the write stays queued for another instance (review 12 finding 13)', async () => {
    const cacheName = name()
    let called = 0
    const cache = rk.cache<string>(cacheName, {
      write: 'behind',
      writer: () => {
        called++
        return new Promise<void>(() => {}) // a database call stuck on a dead connection
      },
      writeBehind: { flushTimeoutMs: 500 },
    })
    await cache.set('k', 'v')
    await eventually(() => called > 0, 5000, 'writer called')
    const started = Date.now()
    await cache.close()
    expect(Date.now() - started).toBeLessThan(2500)
    const stream = `${prefix}:{${cacheName}}:wb`
    expect(await rk.connection.send<number>(['XLEN', stream], { key: stream })).toBe(1)
  })

  /** A consumer of `cacheName`'s drain that takes what is queued and never acknowledges it (a process about to die). */
  const takeAsDeadConsumer = async (cacheName: string) => {
    const stream = `${prefix}:{${cacheName}}:wb`
    await rk.connection.send(['XGROUP', 'CREATE', stream, 'writers', '0', 'MKSTREAM'], { key: stream }).catch(() => {})
    await rk.connection.send(['XREADGROUP', 'GROUP', 'writers', 'dead-consumer', 'COUNT', '10', 'STREAMS', stream, '>'], { key: stream })
    return stream
  }

  it('a write re-claimed from a consumer that died before its ack is not applied over a newer write of the key (review 12 finding 20)', async () => {
    const cacheName = name()
    const queuer = rk.cache<string>(cacheName, { write: 'behind', writer: () => {}, writeBehind: { drain: false } })
    await queuer.set('k', 'v1')
    await takeAsDeadConsumer(cacheName) // it applied v1 and was killed before the ack
    const applied: string[] = []
    const survivor = rk.cache<string>(cacheName, {
      write: 'behind',
      writer: (_key, value) => void applied.push(value),
      writeBehind: { claimIdleMs: 1000 },
    })
    await survivor.set('k', 'v2')
    await eventually(() => applied.includes('v2'), 5000, 'v2 applied')
    await eventually(async () => (await survivor.pendingWrites()) === 0, 8000, "the dead consumer's v1 claimed and done")
    expect(applied).toEqual(['v2'])
    // The newest id is kept only while writes of the key are in the stream.
    for (const part of ['wb-latest', 'wb-queued']) {
      const hash = `${prefix}:{${cacheName}}:${part}`
      expect(await rk.connection.send<number>(['HLEN', hash], { key: hash })).toBe(0)
    }
    await Promise.all([queuer.close(), survivor.close()])
  })

  it('a writer call that hangs does not stop this process taking over the writes of a consumer that died (review 12 finding 21)', async () => {
    const cacheName = name()
    const queuer = rk.cache<string>(cacheName, { write: 'behind', writer: () => {}, writeBehind: { drain: false } })
    await queuer.set('x', 'from-a-dead-consumer')
    const stream = await takeAsDeadConsumer(cacheName)
    // The consumer is alive until told otherwise: it keeps its write from going idle.
    const entries = await rk.connection.send<Array<[string]>>(['XRANGE', stream, '-', '+', 'COUNT', '1'], { key: stream })
    const id = String(entries[0]?.[0])
    let alive = true
    const beating = (async () => {
      while (alive) {
        await rk.connection.send(['XCLAIM', stream, 'writers', 'dead-consumer', '0', id, 'IDLE', '0', 'JUSTID'], { key: stream })
        await sleep(100)
      }
    })()
    const calls: string[] = []
    const survivor = rk.cache<string>(cacheName, {
      write: 'behind',
      writer: (key) => {
        calls.push(key)
        return key === 'hung' ? new Promise<void>(() => {}) : undefined // a database call stuck on a dead connection
      },
      writeBehind: { claimIdleMs: 500, flushTimeoutMs: 200 },
    })
    survivor.on('error', () => {})
    await survivor.set('hung', 'h')
    await sleep(2000) // the reclaim timer has taken 'hung' back (idle past claimIdleMs) while its call hangs
    alive = false
    await beating
    await eventually(() => calls.includes('x'), 8000, "the dead consumer's write taken over")
    await Promise.all([queuer.close(), survivor.close()])
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

  it('the drain goes on after its stream is deleted, or replaced by garbage and removed: the group is created again, each loss reported once (review 13)', async () => {
    const cacheName = name()
    const stream = `${prefix}:{${cacheName}}:wb`
    const written: string[] = []
    const errors: RedkitError[] = []
    const cache = rk.cache<string>(cacheName, { write: 'behind', writer: (key, value) => void written.push(`${key}=${value}`) })
    cache.on('error', (e) => void (e.code !== 'E_SERVER_CONFIG' && errors.push(e)))
    const lost = () => errors.filter((e) => /lost its consumer group/.test(e.message))
    await cache.set('k1', 'a')
    await eventually(() => written.includes('k1=a'), 10_000, 'the first write')
    await eventually(async () => (await cache.pendingWrites()) === 0, 10_000, 'k1 acknowledged')
    // Deleted (FLUSHDB, an operator): the next write still reaches the writer.
    await del(stream)
    await cache.set('k2', 'b')
    await eventually(() => written.includes('k2=b'), 15_000, 'a write queued after the stream was deleted')
    await eventually(async () => (await cache.pendingWrites()) === 0, 10_000, 'k2 acknowledged')
    expect(lost()).toHaveLength(1)
    // Replaced by garbage: a typed error of the server's reply, not a connection failure.
    await rk.connection.send(['SET', stream, 'garbage'], { key: stream })
    await eventually(() => errors.some((e) => /WRONGTYPE/.test(e.message)), 10_000, 'the garbage reported')
    await del(stream)
    await cache.set('k3', 'c')
    await eventually(() => written.includes('k3=c'), 15_000, 'a write queued after the garbage was removed')
    expect(written).toEqual(['k1=a', 'k2=b', 'k3=c'])
    expect(lost()).toHaveLength(2)
    const garbage = errors.filter((e) => /WRONGTYPE/.test(e.message))
    expect(garbage.filter((e) => e.code !== 'E_REDIS' && e.code !== 'E_SCRIPT').map((e) => `${e.code} ${e.message}`)).toEqual([])
    expect(errors.filter((e) => e.code === 'E_CONNECTION')).toEqual([])
    expect(new Set(lost().map((e) => e.code))).toEqual(new Set(['E_REDIS']))
    await eventually(async () => (await cache.pendingWrites()) === 0, 10_000, 'every write acknowledged')
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
