import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { startChild, stopChild } from '../support/child.js'
import { PROCESS_TOPOLOGIES } from '../support/expect.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

const HOLDER = new URL('../fixtures/lock-holder.ts', import.meta.url).pathname
const FENCED_WRITE =
  "local last = tonumber(redis.call('HGET', KEYS[1], 'token') or '0') if tonumber(ARGV[1]) <= last then return 0 end redis.call('HSET', KEYS[1], 'token', ARGV[1], 'writer', ARGV[2]) return 1"

describe.each(PROCESS_TOPOLOGIES)('lock failure on %s', (_topology, options, env) => {
  it('a holder frozen (SIGSTOP) past its TTL loses the lock to another process, and its fenced writes are rejected', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'redkit-fence-'))
    const ledger = path.join(dir, 'ledger')
    const prefix = testPrefix()
    const rk = await createRedkit({ ...options(), prefix })
    const resource = rk.keys.key('fenced-resource', 'data')
    const child = await startChild(HOLDER, {
      ...env(),
      REDKIT_PREFIX: prefix,
      NAME: 'fenced',
      TTL_MS: '1000',
      RESOURCE: resource,
      LEDGER: ledger,
    })
    const lines = () => readFileSync(ledger, 'utf8').trim().split('\n')
    try {
      await eventually(() => lines().includes('accepted'), 5000, 'a fenced write from the holder')
      const childToken = Number(lines()[0]?.split(' ')[1])
      child.kill('SIGSTOP')
      const lock = rk.lock('fenced', { ttlMs: 5000 })
      const started = Date.now()
      await lock.acquire({ timeoutMs: 5000 })
      // Taken once the frozen holder's TTL ran out, not before.
      expect(Date.now() - started).toBeLessThan(3000)
      expect(lock.token).toBeGreaterThan(childToken)
      expect(await rk.connection.send(['EVAL', FENCED_WRITE, '1', resource, String(lock.token), 'parent'], { key: resource })).toBe(1)
      const before = lines().length
      child.kill('SIGCONT')
      await eventually(() => lines().includes('lost'), 5000, 'the resumed holder noticing its loss')
      await eventually(() => lines().slice(before).includes('rejected'), 5000, 'a rejected write from the resumed holder')
      expect(lines().slice(before)).not.toContain('accepted')
      expect(await rk.connection.send(['HGET', resource, 'writer'], { key: resource })).toBe('parent')
      await lock.release()
    } finally {
      child.kill('SIGCONT')
      await stopChild(child)
      await rk.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('lock failure on a server of its own', () => {
  let server: RedisProcess
  let rk: Redkit
  let other: Redkit
  const calls = async () => {
    const info = String(await rk.connection.send(['INFO', 'commandstats']))
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(info)?.[1] ?? 0)
  }

  beforeAll(async () => {
    server = await startRedisServer()
    rk = await createRedkit({ url: server.url, prefix: 'own' })
    other = await createRedkit({ url: server.url, prefix: 'own' })
  })
  afterAll(async () => {
    await rk?.close()
    await other?.close()
    await server?.stop()
  })

  it('fencing tokens keep growing across a restart without persistence', async () => {
    const lock = rk.lock('restart')
    await lock.acquire()
    const before = lock.token as number
    await lock.release()
    const port = server.port
    await server.stop()
    server = await startRedisServer({ port })
    await eventually(async () => (await rk.connection.send(['PING']).catch(() => '')) === 'PONG', 10_000, 'reconnect')
    expect(await rk.connection.send(['DBSIZE'])).toBe(0)
    await lock.acquire()
    expect(lock.token).toBeGreaterThan(before)
    await lock.release()
  })

  it('a release wakes only the waiter it hands the lock to (no retry storm)', async () => {
    const holder = rk.lock('herd', { pollMs: 30_000 })
    await holder.acquire()
    const waiters = Array.from({ length: 10 }, () => other.lock('herd', { pollMs: 30_000 }))
    const order: number[] = []
    const done = waiters.map(async (waiter, i) => {
      await sleep(i * 20)
      await waiter.acquire({ timeoutMs: 10_000 })
      order.push(i)
      await waiter.release()
    })
    await eventually(async () => (await rk.connection.send(['ZCARD', rk.keys.key('lock:herd', 'queue')])) === 10, 5000, 'ten queued')
    // Waiters that queued before the channel was subscribed check once more: let that settle.
    await sleep(300)
    const start = await calls()
    await holder.release()
    await Promise.all(done)
    // One release per holder, plus the attempt that confirms the one handoff announced by a message
    // (a message is a hint, never a grant) and one of slack: a thundering herd would add an
    // attempt per waiter per release.
    expect((await calls()) - start).toBeLessThanOrEqual(13)
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('a handoff whose wake-up message is lost only delays the waiter until its next poll', async () => {
    const holder = rk.lock('lost-message')
    await holder.acquire()
    const waiter = other.lock('lost-message', { pollMs: 300 })
    const acquired = waiter.acquire({ timeoutMs: 5000 })
    const queue = rk.keys.key('lock:lost-message', 'queue')
    await eventually(async () => (await rk.connection.send(['ZCARD', queue])) === 1, 5000, 'queued')
    const [token] = (await rk.connection.send(['ZRANGE', queue, '0', '0'])) as string[]
    // The state a handoff leaves, written without its message.
    const holders = rk.keys.key('lock:lost-message', 'holders')
    const [seconds] = (await rk.connection.send(['TIME'])) as string[]
    await rk.connection.send(['DEL', holders, queue, rk.keys.key('lock:lost-message', 'waiters')])
    await rk.connection.send(['HSET', holders, token as string, `${Number(seconds) * 1000 + 30_000}:${Number(seconds) * 1_000_000}:1`])
    const started = Date.now()
    await acquired
    expect(Date.now() - started).toBeLessThan(1000)
    await waiter.release()
  })

  it('planted data never wedges a lock, and a holder without TTL does not make waiters spin', async () => {
    const holders = rk.keys.key('lock:planted', 'holders')
    await rk.connection.send(['HSET', holders, 'garbage', 'not-a-hold'])
    const lock = rk.lock('planted')
    expect(await lock.tryAcquire()).toBe(true)
    await lock.release()
    // A hold that never lapses, on a hash without a TTL: waiters poll at pollMs, not every ms.
    // (A hold lapsing further out than any TTL redkit accepts is planted garbage and is dropped.)
    const [seconds] = (await rk.connection.send(['TIME'])) as string[]
    await rk.connection.send(['DEL', holders])
    await rk.connection.send(['HSET', holders, 'forever', `${Number(seconds) * 1000 + 600_000}:1:1`])
    const start = await calls()
    await expect(other.lock('planted', { pollMs: 200 }).acquire({ timeoutMs: 1000 })).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' })
    expect((await calls()) - start).toBeLessThanOrEqual(10)
    await rk.connection.send(['DEL', holders])
  })

  it('an idle lock leaves no keys behind (no fence counter kept per name for ever)', async () => {
    const holder = rk.lock('idle', { ttlMs: 300 })
    await holder.acquire()
    const waiter = other.lock('idle', { ttlMs: 300 })
    const waited = waiter.acquire({ timeoutMs: 5000 })
    await sleep(50)
    await holder.release()
    await waited
    await waiter.release()
    await eventually(async () => ((await rk.connection.send(['KEYS', 'own:{lock:idle}*'])) as string[]).length === 0, 2000, 'no keys left')
  })

  it('warns when maxmemory-policy could evict locks', async () => {
    const evicting = await startRedisServer({ args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru'] })
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
    const r = await createRedkit({ url: evicting.url, prefix: 'evict' })
    try {
      const lock = r.lock('x')
      await lock.acquire()
      const warning = (await warned) as Error & { code?: string }
      expect(warning.code).toBe('E_SERVER_CONFIG')
      expect(warning.message).toMatch(/maxmemory-policy.*noeviction/)
      await lock.release()
    } finally {
      await r.close()
      await evicting.stop()
    }
  })
})

describe('lock failure through a proxy', () => {
  it('a holder whose renewals stall loses the lock locally (signal aborted) before anyone else can take it', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const prefix = testPrefix()
    const viaProxy = await createRedkit({ url: proxy.url, prefix })
    const direct = await createRedkit({ url: standaloneUrl(), prefix })
    try {
      const lock = viaProxy.lock('stall', { ttlMs: 1000 })
      let lostAt = 0
      lock.onLost(() => {
        lostAt = Date.now()
      })
      await lock.acquire()
      const signal = lock.signal as AbortSignal
      await sleep(400)
      proxy.pause()
      const other = direct.lock('stall')
      await other.acquire({ timeoutMs: 5000 })
      const otherAt = Date.now()
      expect(signal.aborted).toBe(true)
      expect(lostAt).toBeGreaterThan(0)
      expect(lostAt).toBeLessThanOrEqual(otherAt)
      expect(lock.held).toBe(false)
      await other.release()
    } finally {
      proxy.resume()
      await viaProxy.close()
      await direct.close()
      await proxy.close()
    }
  })

  it('an AbortSignal cuts an attempt in flight short, and the waiter leaves the queue', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const prefix = testPrefix()
    const slow = await createRedkit({ url: proxy.url, prefix })
    const direct = await createRedkit({ url: standaloneUrl(), prefix })
    try {
      const holder = direct.lock('abort')
      await holder.acquire()
      proxy.setLatency(400)
      const controller = new AbortController()
      const started = Date.now()
      setTimeout(() => controller.abort(new Error('stop')), 50)
      await expect(slow.lock('abort').acquire({ signal: controller.signal, timeoutMs: 10_000 })).rejects.toThrow('stop')
      expect(Date.now() - started).toBeLessThan(400)
      await eventually(
        async () => (await direct.connection.send(['EXISTS', direct.keys.key('lock:abort', 'queue')])) === 0,
        5000,
        'queue empty',
      )
      await holder.release()
    } finally {
      proxy.setLatency(0)
      await slow.close()
      await direct.close()
      await proxy.close()
    }
  })
})
