import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { defineScript } from '../../src/core/scripts.js'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

const FIXTURES = new URL('../fixtures/lua/', import.meta.url)
const move = defineScript<[string, string], [string], string | null>('test-move', FIXTURES)

describe('Sentinel', () => {
  let master: RedisProcess
  let sentinel: RedisProcess
  let rk: Redkit

  beforeAll(async () => {
    master = await startRedisServer()
    sentinel = await startRedisServer({ sentinelOf: { name: 'rkmaster', host: master.host, port: master.port } })
    rk = await createRedkit({
      sentinel: { name: 'rkmaster', sentinels: [{ host: sentinel.host, port: sentinel.port }] },
      prefix: testPrefix(),
    })
  })
  afterAll(async () => {
    await rk?.close()
    await Promise.all([sentinel?.stop(), master?.stop()])
  })

  it('connects through Sentinel to the master it monitors', async () => {
    expect(rk.topology).toBe('sentinel')
    expect(await rk.ping()).toBeGreaterThan(0)
    const key = rk.keys.key('sentinel', 'k')
    await rk.connection.send(['SET', key, 'via-sentinel'])
    // The value is on the master Sentinel pointed at.
    const direct = await createRedkit({ url: master.url, prefix: 'direct' })
    expect(await direct.connection.send(['GET', key])).toBe('via-sentinel')
    await direct.close()
  })

  it('runs scripts and the doctor through Sentinel', async () => {
    const q = rk.keys.object('sentinel-script')
    await rk.connection.send(['SET', q('a'), 'x'])
    expect(await move.run(rk.connection, [q('a'), q('b')], ['lenient'])).toBe('x')
    const report = await rk.doctor()
    expect(report.topology).toBe('sentinel')
    expect(report.nodes[0]?.version).toMatch(/^7\./)
  })

  it('opens dedicated connections through Sentinel', async () => {
    const dedicated = await rk.connection.dedicated()
    expect(dedicated.isOpen).toBe(true)
    await dedicated.close()
  })

  it('delivers expirations through Sentinel, reliable and native', async () => {
    const reliable: string[] = []
    const native: string[] = []
    const subs = await Promise.all([
      rk.expirations.on(`${rk.keys.prefix}:sentinel-exp:*`, (e) => void reliable.push(e.key)),
      rk.expirations.on(`${rk.keys.prefix}:sentinel-native:*`, (e) => void native.push(e.key), { mode: 'native' }),
    ])
    try {
      await rk.expirations.set(`${rk.keys.prefix}:sentinel-exp:1`, 'v', { ttlMs: 100 })
      const nativeKey = `${rk.keys.prefix}:sentinel-native:1`
      await rk.connection.send(['SET', nativeKey, 'v', 'PX', '100'], { key: nativeKey })
      await eventually(() => reliable.length === 1 && native.length === 1, 5000, 'both expirations')
      expect(reliable).toEqual([`${rk.keys.prefix}:sentinel-exp:1`])
      expect(native).toEqual([nativeKey])
    } finally {
      await Promise.all(subs.map((sub) => sub.close()))
    }
  })

  it('runs queues, workers and channels through Sentinel', async () => {
    const done: number[] = []
    const worker = rk.worker<number>('sentinel-jobs', async (job) => {
      done.push(job.data)
      return job.data * 2
    })
    const heard: string[] = []
    const channel = rk.channel<string>('sentinel-chat')
    const sub = await channel.subscribe((message) => void heard.push(message))
    try {
      const queue = rk.queue<number>('sentinel-jobs')
      await queue.addBulk([1, 2, 3].map((data) => ({ data })))
      await channel.publish('hello')
      await eventually(() => done.length === 3 && heard.length === 1, 5000, 'jobs and message')
      expect(done.sort()).toEqual([1, 2, 3])
      expect(heard).toEqual(['hello'])
    } finally {
      await sub.close()
      await worker.close()
    }
  })

  it('keeps sessions and caches through Sentinel', async () => {
    const sessions = rk.sessions({ name: 'sentinel' })
    const s = await sessions.create('ada', { n: 1 })
    expect((await sessions.get(s.token))?.data).toEqual({ n: 1 })
    expect(await sessions.destroyAllForUser('ada')).toBe(1)
    const cache = rk.cache<number>('sentinel-cache')
    let loads = 0
    const load = async () => ++loads
    expect(await cache.getOrLoad('k', load)).toBe(1)
    expect(await cache.getOrLoad('k', load)).toBe(1)
    expect(loads).toBe(1)
  })

  it('fails commands pending at close with E_CLOSED while the primary is frozen', async () => {
    const closing = await createRedkit({
      sentinel: { name: 'rkmaster', sentinels: [{ host: sentinel.host, port: sentinel.port }] },
      prefix: testPrefix(),
      connectTimeoutMs: 1000,
    })
    closing.on('error', () => {})
    await closing.connection.send(['SET', closing.keys.key('frozen'), '1'])
    master.signal('SIGSTOP')
    try {
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => 'answered',
          (e: unknown) => (isRedkitError(e) ? e.code : `raw ${String(e)}`),
        )
      const pending = [
        outcome(closing.connection.send(['GET', closing.keys.key('frozen')])),
        outcome(closing.queue('frozen').add({ n: 1 })),
        outcome(closing.cache('frozen').get('k')),
      ]
      await new Promise((resolve) => setTimeout(resolve, 200))
      await closing.close()
      // Before: E_REDIS / E_SCRIPT carrying a TypeError from inside the driver.
      expect(await Promise.all(pending)).toEqual(['E_CLOSED', 'E_CLOSED', 'E_CLOSED'])
    } finally {
      master.signal('SIGCONT')
    }
  })
})
