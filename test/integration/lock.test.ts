import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { COALESCE_MS } from '../../src/lock/local.js'
import { countSends, errorCode, TOPOLOGIES, thrownCode } from '../support/expect.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { sleep } from '../support/wait.js'

describe.each(TOPOLOGIES)('lock on %s', (_topology, options) => {
  let rk: Redkit
  let other: Redkit

  beforeAll(async () => {
    const prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
    other = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
    await other?.close()
  })

  it('one holder at a time, with strictly increasing fencing tokens', async () => {
    const a = rk.lock('orders')
    const b = other.lock('orders')
    expect(await a.tryAcquire()).toBe(true)
    expect(await b.tryAcquire()).toBe(false)
    const first = a.token as number
    expect(await a.release()).toBe(true)
    expect(await b.tryAcquire()).toBe(true)
    expect(b.token).toBeGreaterThan(first)
    expect(await a.release()).toBe(false)
    await b.release()
  })

  it('mutual exclusion under contention from two instances', async () => {
    let inside = 0
    let maxInside = 0
    let done = 0
    const work = async (r: Redkit) => {
      for (let i = 0; i < 10; i++) {
        await r.lock('counter').using(async () => {
          inside++
          maxInside = Math.max(maxInside, inside)
          await new Promise((res) => setTimeout(res, 2))
          inside--
          done++
        })
      }
    }
    await Promise.all([work(rk), work(rk), work(other), work(other)])
    expect(done).toBe(40)
    expect(maxInside).toBe(1)
  })

  it('wakes a waiter on release, not at the end of the TTL', async () => {
    const holder = rk.lock('wake', { ttlMs: 20_000 })
    await holder.acquire()
    setTimeout(() => void holder.release(), 100)
    const started = Date.now()
    const waiter = other.lock('wake', { ttlMs: 20_000 })
    await waiter.acquire({ timeoutMs: 5000 })
    expect(Date.now() - started).toBeLessThan(1000)
    await waiter.release()
  })

  it('times out with E_LOCK_TIMEOUT and honours an AbortSignal', async () => {
    const holder = rk.lock('busy')
    await holder.acquire()
    const started = Date.now()
    expect(await errorCode(other.lock('busy').acquire({ timeoutMs: 200 }))).toBe('E_LOCK_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(1500)
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('stop waiting')), 100)
    await expect(other.lock('busy').acquire({ timeoutMs: 5000, signal: controller.signal })).rejects.toThrow('stop waiting')
    await holder.release()
  })

  it('the watchdog keeps a long hold alive; a hold taken over is reported lost', async () => {
    const lock = rk.lock('long', { ttlMs: 300 })
    await lock.acquire()
    await new Promise((r) => setTimeout(r, 800))
    expect(await other.lock('long').tryAcquire()).toBe(false)
    const lost = new Promise((resolve) => lock.onLost(resolve))
    // Someone deletes the lock behind its back (e.g. an operator): the next renewal notices.
    const holders = rk.keys.key('lock:long', 'holders')
    await rk.connection.send(['DEL', holders], { key: holders })
    const error = await lost
    expect(isRedkitError(error) && error.code).toBe('E_LOCK_LOST')
    expect(lock.held).toBe(false)
  })

  it('fencing tokens strictly increase over 1,000 rounds between two instances', async () => {
    const a = rk.lock('rounds')
    const b = other.lock('rounds')
    let last = 0
    for (let i = 0; i < 1000; i++) {
      const lock = i % 2 === 0 ? a : b
      await lock.acquire()
      expect(lock.token).toBeGreaterThan(last)
      last = lock.token as number
      await lock.release()
    }
  })

  it('waiters get the lock in arrival order, and a dead waiter at the head is skipped', async () => {
    const holder = rk.lock('fifo')
    await holder.acquire()
    // A waiter whose process died: its place has lapsed.
    const queue = rk.keys.key('lock:fifo', 'queue')
    await rk.connection.send(['ZADD', queue, '0', 'dead'], { key: queue })
    await rk.connection.send(['HSET', rk.keys.key('lock:fifo', 'waiters'), 'dead', '1:30000:1'], { key: queue })
    const order: number[] = []
    const waiting = Array.from({ length: 5 }, async (_, i) => {
      await sleep(i * 30)
      const lock = (i % 2 === 0 ? other : rk).lock('fifo')
      await lock.acquire({ timeoutMs: 5000 })
      order.push(i)
      await lock.release()
    })
    await sleep(200)
    const started = Date.now()
    await holder.release()
    await Promise.all(waiting)
    expect(order).toEqual([0, 1, 2, 3, 4])
    expect(Date.now() - started).toBeLessThan(1000)
  })

  // The attempt rode in a script of its own (two calls per handoff), and a waiter whose channel
  // subscription was not yet confirmed asked Redis again (COALESCE_MS later) although the release
  // reply had already granted it the lock.
  it('an attempt waiting for this process’s release rides inside it, and takes the grant in its reply: one script call', async () => {
    const holder = rk.lock('rides', { ttlMs: 20_000 })
    // Both scripts loaded on the lock's server first, so no NOSCRIPT retry is counted; tryAcquire
    // subscribes to nothing, so the waiter below opens the lock's channel subscription itself.
    expect(await holder.tryAcquire()).toBe(true)
    await holder.release()
    expect(await holder.tryAcquire()).toBe(true)
    const next = rk.lock('rides', { ttlMs: 20_000 })
    const { sends } = await countSends(rk, async () => {
      // The attempt waits for the release (this process fills the lock), which carries it.
      const waiting = next.acquire({ timeoutMs: 5000 })
      await sleep(0)
      expect(await holder.release()).toBe(true)
      await waiting
    })
    expect(next.held).toBe(true)
    expect(sends).toBe(1)
    expect(await other.lock('rides').tryAcquire()).toBe(false)
    expect(await next.release()).toBe(true)
  })

  it('an acquire while this process fills the lock reaches the queue within COALESCE_MS, ahead of a later remote waiter', async () => {
    const holder = rk.lock('coalesce', { ttlMs: 20_000 })
    await holder.acquire()
    const order: string[] = []
    const local = rk.lock('coalesce', { ttlMs: 20_000 })
    const localDone = local.acquire({ timeoutMs: 5000 }).then(async () => {
      order.push('local')
      await local.release()
    })
    // The attempt waits for this process's next command on the lock (the release), but not longer
    // than COALESCE_MS: it is queued by now although the holder still holds.
    await sleep(COALESCE_MS + 50)
    const queue = rk.keys.key('lock:coalesce', 'queue')
    expect(await rk.connection.send(['ZCARD', queue], { key: queue })).toBe(1)
    const remote = other.lock('coalesce', { ttlMs: 20_000 })
    const remoteDone = remote.acquire({ timeoutMs: 5000 }).then(async () => {
      order.push('remote')
      await remote.release()
    })
    await sleep(100)
    await holder.release()
    await Promise.all([localDone, remoteDone])
    expect(order).toEqual(['local', 'remote'])
  })

  it('release and extend by a non-owner fail; a double release is harmless', async () => {
    const a = rk.lock('owner')
    const b = other.lock('owner')
    expect(await b.release()).toBe(false)
    expect(await b.extend()).toBe(false)
    await a.acquire()
    expect(await b.release()).toBe(false)
    expect(await b.extend(5000)).toBe(false)
    expect(await other.lock('owner').tryAcquire()).toBe(false)
    expect(await a.release()).toBe(true)
    expect(await a.release()).toBe(false)
    await b.acquire()
    expect(await a.release()).toBe(false)
    expect(b.held).toBe(true)
    expect(await rk.lock('owner').tryAcquire()).toBe(false)
    await b.release()
  })

  it('extend(ttlMs) sets the TTL the watchdog keeps renewing with', async () => {
    const lock = rk.lock('custom', { ttlMs: 300 })
    await lock.acquire()
    expect(await lock.extend(3000)).toBe(true)
    await sleep(1200)
    const holders = rk.keys.key('lock:custom', 'holders')
    const entry = String(
      await rk.connection.send(
        ['HGET', holders, ...(await rk.connection.send<string[]>(['HKEYS', holders], { key: holders })).filter((f) => f !== '_f')],
        { key: holders },
      ),
    )
    const [seconds, micros] = await rk.connection.send<string[]>(['TIME'], { key: holders })
    const left = Number(entry.split(':')[0]) - (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000))
    expect(left).toBeGreaterThan(1500)
    await lock.release()
  })

  it('fair: false takes a free lock at once and still excludes', async () => {
    const a = rk.lock('unfair', { fair: false })
    const b = other.lock('unfair', { fair: false })
    await a.acquire()
    const waited = b.acquire({ timeoutMs: 5000 })
    await sleep(50)
    await a.release()
    await waited
    expect(await a.tryAcquire()).toBe(false)
    await b.release()
  })

  it('rejects bad input with typed errors', async () => {
    expect(thrownCode(() => rk.lock(''))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => rk.lock('a{b}'))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => rk.lock(42 as never))).toBe('E_INVALID_KEY')
    for (const ttlMs of [0, -1, 1.5, Number.NaN, 2 ** 31, '100' as never])
      expect(thrownCode(() => rk.lock('x', { ttlMs }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.lock('x', { watchdog: 'yes' as never }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.lock('x', { pollMs: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.lock('x').acquire({ timeoutMs: -1 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.lock('x').acquire({ signal: {} as never }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(async () => rk.lock('x').extend(0))).toBe('E_INVALID_ARGUMENT')
    const lock = rk.lock('twice')
    await lock.acquire()
    expect(await errorCode(lock.acquire())).toBe('E_INVALID_ARGUMENT')
    await lock.release()
  })
})

describe('lock failure', () => {
  it("a waiter killed while queued stalls the lock for about a place's life, not a whole TTL", async () => {
    const prefix = testPrefix()
    const rk = await createRedkit({ url: standaloneUrl(), prefix })
    const holder = rk.lock('dead-waiter', { ttlMs: 30_000 })
    await holder.acquire()
    const code = `
      import { createRedkit } from './src/index.ts'
      const rk = await createRedkit({ url: process.env.URL, prefix: process.env.PREFIX })
      console.log('waiting')
      await rk.lock('dead-waiter', { ttlMs: 30_000 }).acquire({ timeoutMs: 60_000 })
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, URL: standaloneUrl(), PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const queue = rk.keys.key('lock:dead-waiter', 'queue')
    try {
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('waiting') && resolve()))
      for (let i = 0; i < 200 && (await rk.connection.send(['ZCARD', queue])) !== 1; i++) await sleep(20)
      child.kill('SIGKILL')
      const next = rk.lock('dead-waiter', { ttlMs: 30_000 })
      const waited = next.acquire({ timeoutMs: 20_000 })
      await sleep(50)
      const started = Date.now()
      // Handed to the dead waiter first (its place is still live), which never renews it.
      await holder.release()
      await waited
      expect(Date.now() - started).toBeLessThan(8000)
      await next.release()
    } finally {
      child.kill('SIGKILL')
      await rk.close()
    }
  })

  it('a holder killed with SIGKILL frees the lock after its TTL', async () => {
    const prefix = testPrefix()
    const code = `
      import { createRedkit } from './src/index.ts'
      const rk = await createRedkit({ url: process.env.URL, prefix: process.env.PREFIX })
      await rk.lock('crash', { ttlMs: 500 }).acquire()
      console.log('held')
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, URL: standaloneUrl(), PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve()))
    const rk = await createRedkit({ url: standaloneUrl(), prefix })
    expect(await rk.lock('crash').tryAcquire()).toBe(false)
    child.kill('SIGKILL')
    const started = Date.now()
    const lock = rk.lock('crash')
    await lock.acquire({ timeoutMs: 5000 })
    expect(Date.now() - started).toBeLessThan(2000)
    await lock.release()
    await rk.close()
  })
})
