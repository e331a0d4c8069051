import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode, TOPOLOGIES, thrownCode } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { sleep } from '../support/wait.js'

describe.each(TOPOLOGIES)('semaphore, read-write and reentrant locks on %s', (_topology, options) => {
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

  it('semaphore: at most `permits` holders; a released permit goes to the first waiter, woken at once', async () => {
    const holders = [rk.semaphore('pool', { permits: 2 }), other.semaphore('pool', { permits: 2 })]
    for (const h of holders) expect(await h.tryAcquire()).toBe(true)
    expect(await rk.semaphore('pool', { permits: 2 }).tryAcquire()).toBe(false)
    const first = other.semaphore('pool', { permits: 2 })
    const second = rk.semaphore('pool', { permits: 2 })
    const order: string[] = []
    const a = first.acquire({ timeoutMs: 5000 }).then(() => order.push('first'))
    await sleep(50)
    const b = second.acquire({ timeoutMs: 5000 }).then(() => order.push('second'))
    await sleep(50)
    const started = Date.now()
    await holders[0]?.release()
    await a
    expect(Date.now() - started).toBeLessThan(500)
    await holders[1]?.release()
    await b
    expect(order).toEqual(['first', 'second'])
    await first.release()
    await second.release()
  })

  it("semaphore: a dead holder's permit returns after its TTL", async () => {
    const dead = rk.semaphore('expiring', { permits: 1, ttlMs: 300, watchdog: false })
    expect(await dead.tryAcquire()).toBe(true)
    const started = Date.now()
    const next = other.semaphore('expiring', { permits: 1 })
    await next.acquire({ timeoutMs: 5000 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(Date.now() - started).toBeLessThan(1500)
    await next.release()
  })

  it('read-write lock: readers share, a writer excludes everyone, and a waiting writer stops new readers', async () => {
    const rw = rk.readWriteLock('doc')
    const rw2 = other.readWriteLock('doc')
    const r1 = rw.reader()
    const r2 = rw2.reader()
    expect(await r1.tryAcquire()).toBe(true)
    expect(await r2.tryAcquire()).toBe(true)
    expect(await rw.writer().tryAcquire()).toBe(false)
    const writer = rw2.writer()
    let wrote = false
    const writing = writer.acquire({ timeoutMs: 5000 }).then(() => {
      wrote = true
    })
    await sleep(50)
    // Writer preference: the writer waits, so a new reader may not overtake it.
    const late = rw.reader()
    expect(await late.tryAcquire()).toBe(false)
    let lateRead = false
    const reading = late.acquire({ timeoutMs: 5000 }).then(() => {
      lateRead = true
    })
    await r1.release()
    await sleep(50)
    expect(wrote).toBe(false)
    await r2.release()
    await writing
    expect(wrote).toBe(true)
    await sleep(50)
    expect(lateRead).toBe(false)
    await writer.release()
    await reading
    expect(lateRead).toBe(true)
    await late.release()
  })

  it('read-write lock: read(fn) and write(fn) run under their holds', async () => {
    const rw = rk.readWriteLock('fn')
    let inside = 0
    let most = 0
    const read = () =>
      rw.read(async () => {
        inside++
        most = Math.max(most, inside)
        await sleep(30)
        inside--
      })
    await Promise.all([read(), read(), read()])
    expect(most).toBe(3)
    const [signal, abortedInside] = await rw.write((s) => [s, s.aborted] as const)
    expect(abortedInside).toBe(false)
    // Once the hold ends, work still holding its signal learns that the lock is no longer held.
    expect(signal.aborted).toBe(true)
  })

  it('reentrant lock: the handle re-takes it without a round trip, and the last release frees it', async () => {
    const lock = rk.reentrantLock('re')
    await lock.acquire()
    await lock.acquire()
    expect(lock.holdCount).toBe(2)
    expect(await other.lock('re').tryAcquire()).toBe(false)
    expect(await lock.release()).toBe(true)
    expect(await other.lock('re').tryAcquire()).toBe(false)
    expect(await lock.release()).toBe(true)
    expect(lock.held).toBe(false)
    const after = other.lock('re')
    expect(await after.tryAcquire()).toBe(true)
    await after.release()
    expect(await lock.release()).toBe(false)
  })

  it('reentrant lock: a nested using() in the same async context re-enters; a concurrent one waits', async () => {
    const lock = rk.reentrantLock('ctx')
    const events: string[] = []
    const outer = lock.using(async () => {
      events.push('outer')
      await lock.using(async () => {
        events.push('inner')
        await sleep(50)
      })
      events.push('outer done')
    })
    await sleep(10)
    const concurrent = lock.using(async () => {
      events.push('concurrent')
    })
    await Promise.all([outer, concurrent])
    expect(events).toEqual(['outer', 'inner', 'outer done', 'concurrent'])
  })

  it('rejects bad input with typed errors', async () => {
    expect(thrownCode(() => rk.semaphore('s', { permits: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.semaphore('s', { permits: 1.5 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.semaphore('s', undefined as never))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.semaphore('a{b', { permits: 2 }))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => rk.readWriteLock('', {}))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => rk.readWriteLock('x', { ttlMs: -5 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.reentrantLock('x', { ttlMs: 2 ** 31 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.semaphore('s', { permits: 2 }).acquire({ timeoutMs: Number.NaN }))).toBe('E_INVALID_ARGUMENT')
  })
})
