// Regression tests for the safety findings of docs/reviews/2026-12-01-lock.md: each failed before its fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { MAX_HOLDERS } from '../../src/lock/wire.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { errorCode, TOPOLOGIES, thrownCode } from '../support/expect.js'
import { closeAll, rawClient, rawCluster, standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

type Send = (key: string, args: string[]) => Promise<unknown>

/** Waits until `n` waiters are queued on the lock whose queue key is `queue`; returns their tokens, first first. */
async function queued(send: Send, queue: string, n: number, what = `${n} waiters queued`): Promise<string[]> {
  let tokens: string[] = []
  await eventually(
    async () => {
      tokens = (await send(queue, ['ZRANGE', queue, '0', '-1'])) as string[]
      return tokens.length === n
    },
    5000,
    what,
  )
  return tokens
}

describe.each(TOPOLOGIES)('lock safety on %s', (topology, options) => {
  let rk: Redkit
  let other: Redkit
  let prefix: string
  let send: Send
  let closeRaw: () => Promise<void>

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
    other = await createRedkit({ ...options(), prefix })
    if (topology === 'cluster') {
      const cluster = await rawCluster()
      send = (key, args) => cluster.sendCommand(key, false, args)
      closeRaw = () => closeAll(cluster)
    } else {
      const client = await rawClient()
      send = (_key, args) => client.sendCommand(args)
      closeRaw = () => closeAll(client)
    }
  })
  afterAll(async () => {
    await rk?.close()
    await other?.close()
    await closeRaw?.()
  })

  // Finding 1 / issue 13 item 6: Lua's tonumber takes 'inf', 'nan' and 1e309; a grant wrote them
  // into the holder entry, the next reader dropped that live holder as unreadable, and a second
  // process got the lock; past 2^53 tokens stopped growing or went negative.
  it.each(['inf', 'nan', '1e309', '-5', '1e20', '9007199254740993', 'garbage'])(
    'a planted fence counter _f = %s keeps one holder and growing tokens',
    async (planted) => {
      const name = `planted-${planted}`
      const holders = rk.keys.key(`lock:${name}`, 'holders')
      await send(holders, ['HSET', holders, '_f', planted])
      const a = rk.lock(name)
      const b = other.lock(name)
      expect(await a.tryAcquire()).toBe(true)
      expect(await b.tryAcquire()).toBe(false)
      const first = a.token as number
      expect(Number.isSafeInteger(first) && first > 0).toBe(true)
      expect(await a.release()).toBe(true)
      expect(await b.tryAcquire()).toBe(true)
      expect(b.token as number).toBeGreaterThan(first)
      expect(await a.tryAcquire()).toBe(false)
      await b.release()
    },
  )

  // Issue 13 item 6: a planted waiter whose hold ttl PEXPIRE cannot take made the handoff fail after
  // it had written the grant: release() threw although the caller's hold was gone.
  it.each(['99999999999999999999', '2147483648'])(
    'a planted waiter with a hold ttl of %s does not make release() fail after releasing',
    async (ttl) => {
      const name = `planted-ttl-${ttl.length}`
      const holders = rk.keys.key(`lock:${name}`, 'holders')
      const queue = rk.keys.key(`lock:${name}`, 'queue')
      const waiters = rk.keys.key(`lock:${name}`, 'waiters')
      const a = rk.lock(name)
      expect(await a.tryAcquire()).toBe(true)
      await send(queue, ['ZADD', queue, '1', 'planted'])
      await send(waiters, ['HSET', waiters, 'planted', `${Date.now() + 60_000}:${ttl}:1`])
      expect(await a.release()).toBe(true)
      expect(await send(holders, ['HEXISTS', holders, 'planted'])).toBe(0)
      const b = other.lock(name)
      expect(await b.tryAcquire()).toBe(true)
      await b.release()
    },
  )

  // Finding 2: held/token/signal changed only when the deadline timer ran, so code right after a
  // blocked event loop still read "held" although the server had let the hold lapse.
  it('after a blocked event loop, held, token and signal say lost at the first look', async () => {
    const lock = rk.lock('blocked', { ttlMs: 200 })
    await lock.acquire()
    const signal = lock.signal as AbortSignal
    const until = Date.now() + 400
    while (Date.now() < until) {
      // synchronous work: no timer can run
    }
    expect(signal.aborted).toBe(true)
    expect(lock.held).toBe(false)
    expect(lock.token).toBeUndefined()
    expect(isRedkitError(signal.reason, 'E_LOCK_LOST')).toBe(true)
    await lock.release()
  })

  // Finding 17: a wake-up message naming a waiter was taken as a grant without asking Redis.
  it('a forged wake-up message does not make a second holder', async () => {
    const holder = rk.lock('forged')
    await holder.acquire()
    const waiter = other.lock('forged', { pollMs: 5000 })
    let settled = false
    const waiting = waiter.acquire({ timeoutMs: 8000 }).finally(() => {
      settled = true
    })
    const [token] = await queued(send, rk.keys.key('lock:forged', 'queue'), 1)
    // Past the waiter's subscription, so the message reaches it.
    await sleep(300)
    const channel = rk.keys.key('lock:forged', 'wake')
    await send(channel, [topology === 'cluster' ? 'SPUBLISH' : 'PUBLISH', channel, `${token}:${(holder.token as number) - 1}:10000`])
    await sleep(300)
    expect(settled).toBe(false)
    expect(waiter.held).toBe(false)
    expect(holder.held).toBe(true)
    await holder.release()
    await waiting
    expect(waiter.held).toBe(true)
    expect(waiter.token as number).toBeGreaterThan(holder.token ?? 0)
    await waiter.release()
  })

  // Finding 15: rk.close() cleared the watchdog but neither released the hold nor aborted its signal.
  it('rk.close() aborts the signal of a held lock with E_CLOSED and releases it at once', async () => {
    const closing = await createRedkit({ ...options(), prefix })
    const lock = closing.lock('closing', { ttlMs: 20_000 })
    await lock.acquire()
    const signal = lock.signal as AbortSignal
    await closing.close()
    expect(signal.aborted).toBe(true)
    expect(isRedkitError(signal.reason, 'E_CLOSED')).toBe(true)
    expect(await other.lock('closing').tryAcquire()).toBe(true)
  })

  // Finding 12: a nested using() that outlived the outer ran with the lock released and a live signal.
  it('reentrant: a nested using() that outlives the outer keeps the lock until it ends', async () => {
    const rl = rk.reentrantLock('nested')
    let inner: Promise<boolean> | undefined
    await rl.using(async () => {
      inner = rl.using(async (signal) => {
        await sleep(400)
        return signal.aborted
      })
    })
    await sleep(100)
    expect(await other.lock('nested').tryAcquire()).toBe(false)
    expect(await inner).toBe(false)
    const after = other.lock('nested')
    await eventually(() => after.tryAcquire(), 2000, 'the lock free once the inner using() ended')
    await after.release()
  })

  // Finding 13: work started inside using() that ran after it could never take the lock again.
  it('reentrant: work started inside using() takes the lock afresh after it ended', async () => {
    const rl = rk.reentrantLock('later')
    let later: Promise<number | undefined> | undefined
    await rl.using(async () => {
      later = new Promise((resolve, reject) =>
        setTimeout(() => rl.using(async () => rl.token ?? ((await other.lock('later').tryAcquire()) ? -1 : 1)).then(resolve, reject), 100),
      )
    })
    expect(await later).toBeGreaterThan(0)
  })

  // Finding 14: using() while the handle held the lock through acquire() waited for itself.
  it('reentrant: using() re-enters a hold the handle took with acquire(); concurrent acquire() counts', async () => {
    const rl = rk.reentrantLock('mixed')
    await rl.acquire()
    expect(await rl.using(() => 'ran', { timeoutMs: 1000 })).toBe('ran')
    expect(rl.holdCount).toBe(1)
    await Promise.all([rl.acquire(), rl.acquire()])
    expect(rl.holdCount).toBe(3)
    for (let i = 0; i < 3; i++) await rl.release()
    expect(rl.held).toBe(false)
    expect(await other.lock('mixed').tryAcquire()).toBe(true)
  })

  // Finding 19: 'shop' + 'eu:sku1' and 'shop:eu' + 'sku1' wrote one stock key.
  it("inventory: ':' in an inventory or product name is refused, so two inventories never share stock", async () => {
    expect(thrownCode(() => rk.inventory('shop:eu'))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.inventory('shop').setStock('eu:sku1', 5))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.inventory('shop').reserve('eu:sku1', 1, 'u'))).toBe('E_INVALID_KEY')
  })

  // Finding 18: unfair readers starve a queued writer; the option is refused for read-write locks.
  // Finding 22: the unfair release woke the queue's head without looking at its place, and nothing
  // dropped a dead head: every release woke nobody, and a live waiter waited for its own poll.
  it('fair: false: a release skips a dead waiter at the head and wakes the live one behind it at once', async () => {
    const holder = rk.lock('unfair-dead', { fair: false })
    await holder.acquire()
    const queue = rk.keys.key('lock:unfair-dead', 'queue')
    const waiters = rk.keys.key('lock:unfair-dead', 'waiters')
    // A waiter whose process died: its place has lapsed, and it arrived first.
    await send(queue, ['ZADD', queue, '0', 'dead'])
    await send(queue, ['HSET', waiters, 'dead', '1:30000:1'])
    await send(queue, ['PEXPIRE', queue, '30000'])
    await send(queue, ['PEXPIRE', waiters, '30000'])
    const live = other.lock('unfair-dead', { fair: false, pollMs: 10_000 })
    const waiting = live.acquire({ timeoutMs: 15_000 })
    await queued(send, queue, 2, 'the live waiter queued')
    const started = Date.now()
    await holder.release()
    await waiting
    // Woken by the release, not by its own poll (10 s).
    expect(Date.now() - started).toBeLessThan(3000)
    expect(Number((await send(queue, ['ZSCORE', queue, 'dead'])) ?? -1)).toBe(-1)
    await live.release()
  }, 30_000)

  it('a read-write lock refuses fair: false', () => {
    expect(thrownCode(() => rk.readWriteLock('rw', { fair: false }))).toBe('E_INVALID_ARGUMENT')
  })

  // Finding 6: every script read every holder, so a planted hash of 100k fields made each attempt
  // take about a second (1M: BUSY for every client), and readers or permits were unbounded.
  it('a holders hash larger than any lock can hold (planted) is refused at once with E_TOO_LARGE, and left as it was', async () => {
    const holders = rk.keys.key('lock:huge', 'holders')
    const fields: string[] = []
    for (let i = 0; i < 100_000; i++) fields.push(`f${i}`, 'garbage')
    await send(holders, ['HSET', holders, ...fields])
    const started = Date.now()
    expect(await errorCode(rk.lock('huge').tryAcquire())).toBe('E_TOO_LARGE')
    expect(await errorCode(rk.lock('huge').acquire({ timeoutMs: 2000 }))).toBe('E_TOO_LARGE')
    expect(Date.now() - started).toBeLessThan(1000)
    expect(Number(await send(holders, ['HLEN', holders]))).toBe(100_000)
    await send(holders, ['DEL', holders])
  })

  it(`at most ${MAX_HOLDERS} holds at once: a reader past them waits its turn, and permits are bounded`, async () => {
    const holders = rk.keys.key('rw:crowd', 'holders')
    const fields: string[] = []
    const expiry = Date.now() + 60_000
    for (let i = 0; i < MAX_HOLDERS - 1; i++) fields.push(`r${i}`, `${expiry}:${i + 1}:1`)
    await send(holders, ['HSET', holders, ...fields, '_f', String(MAX_HOLDERS)])
    await send(holders, ['PEXPIRE', holders, '60000'])
    const last = rk.readWriteLock('crowd').reader()
    const over = other.readWriteLock('crowd').reader()
    expect(await last.tryAcquire()).toBe(true)
    expect(await over.tryAcquire()).toBe(false)
    await last.release()
    expect(await over.tryAcquire()).toBe(true)
    await over.release()
    await send(holders, ['DEL', holders])
    expect(thrownCode(() => rk.semaphore('big', { permits: MAX_HOLDERS + 1 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.semaphore('big', { permits: MAX_HOLDERS }))).toBeUndefined()
  })

  // Finding 5: ttlMs 1-3 gave a hold lost as it was granted.
  it('refuses a TTL too short to hold anything', () => {
    for (const ttlMs of [1, 3, 9]) expect(thrownCode(() => rk.lock('tiny', { ttlMs }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => rk.lock('tiny', { ttlMs: 10 }))).toBeUndefined()
  })

  // Finding 4: a 1,020-character name was refused as "object name is 1025 characters".
  it('a name too long names the caller’s name and the limit for its kind', () => {
    let message = ''
    try {
      rk.lock('x'.repeat(1020))
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('lock name is 1020 characters long; the limit is 1019')
  })
})

describe('lock safety, faults from outside (standalone)', () => {
  let server: RedisProcess | undefined

  afterAll(async () => {
    await server?.stop()
  })

  // Finding 8: a grant whose reply came after the TTL resolved "held" while another process held.
  it('a grant whose reply arrives after the local deadline is given back, not taken', async () => {
    const url = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: url.hostname, port: Number(url.port) })
    const prefix = testPrefix()
    const slow = await createRedkit({ url: proxy.url, prefix })
    const direct = await createRedkit({ url: standaloneUrl(), prefix })
    try {
      proxy.setLatency(150)
      const lock = slow.lock('late', { ttlMs: 200, watchdog: false })
      expect(await lock.tryAcquire()).toBe(false)
      expect(lock.held).toBe(false)
      await expect(lock.acquire({ timeoutMs: 1500 })).rejects.toSatisfy((e) => isRedkitError(e, 'E_LOCK_TIMEOUT'))
      expect(lock.held).toBe(false)
      proxy.setLatency(0)
      const d = direct.lock('late')
      await eventually(() => d.tryAcquire(), 2000, 'the late grant given back or lapsed')
      await d.release()
    } finally {
      await slow.close()
      await direct.close()
      await proxy.close()
    }
  }, 20_000)

  // Finding 3 (its watchdog: false case): a hold handed over to a waiter lasted the full TTL when
  // the waiter had no watchdog, so a waiter that died while queued stalled everyone behind it that
  // long. A waiter cut off from Redis (its connection frozen) is as good as dead. The live waiter
  // behind it then takes the lock through its own attempt's handoff, which (until 2026-12-01
  // evening) replied the full TTL for a hold written for a place's life: the taker neither renewed
  // nor extended it in time, and the lock went to a second holder about 3 s later.
  it.each([false, true])(
    "watchdog %s: a waiter cut off while queued stalls the lock for about a place's life, and the next one keeps it",
    async (watchdog) => {
      const url = new URL(standaloneUrl())
      const proxy = await startChaosProxy({ host: url.hostname, port: Number(url.port) })
      const prefix = testPrefix()
      const dying = await createRedkit({ url: proxy.url, prefix })
      const direct = await createRedkit({ url: standaloneUrl(), prefix })
      const rival = await createRedkit({ url: standaloneUrl(), prefix })
      dying.on('error', () => {})
      try {
        const options = { ttlMs: 30_000, watchdog }
        const holder = direct.lock('dead-waiter', options)
        await holder.acquire()
        const queue = direct.keys.key('lock:dead-waiter', 'queue')
        const send: Send = (_key, args) => direct.connection.send(args)
        void dying
          .lock('dead-waiter', options)
          .acquire({ timeoutMs: 60_000 })
          .catch(() => {})
        await queued(send, queue, 1, 'the doomed waiter queued')
        proxy.freeze()
        const next = direct.lock('dead-waiter', options)
        const waited = next.acquire({ timeoutMs: 25_000 })
        await queued(send, queue, 2, 'the live waiter queued')
        const started = Date.now()
        // Handed to the cut-off waiter first (its place is still live); it never takes it.
        await holder.release()
        await waited
        expect(Date.now() - started).toBeLessThan(8000)
        // Past the handoff's own life (a place: 3 s), the taker still holds it, alone.
        await sleep(4000)
        expect(next.held).toBe(true)
        expect(await rival.lock('dead-waiter', options).tryAcquire()).toBe(false)
        expect(await next.release()).toBe(true)
      } finally {
        await proxy.close()
        await Promise.allSettled([dying.close(), direct.close(), rival.close()])
      }
    },
    60_000,
  )

  // Finding 20: the lapse marker is written a round trip before the reservation's own expiry is
  // stamped, and a lapse event was applied as it came: units back and confirm() false before the
  // expiresAt that reserve() returned (here the round trips are long: 300 ms each way).
  it('inventory: a lapse event that comes before expiresAt changes nothing; the units return after it', async () => {
    const url = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: url.hostname, port: Number(url.port) })
    const prefix = testPrefix()
    const slow = await createRedkit({ url: proxy.url, prefix })
    const direct = await createRedkit({ url: standaloneUrl(), prefix })
    try {
      const shop = slow.inventory('early', { lapseMs: 2500 })
      const watcher = direct.inventory('early', { lapseMs: 2500 })
      await watcher.start()
      await shop.setStock('cap', 10)
      proxy.setLatency(300)
      const kept = await shop.reserve('cap', 2, 'ann')
      const lapsing = await shop.reserve('cap', 3, 'bob')
      proxy.setLatency(0)
      if (!kept || !lapsing) throw new Error('not reserved')
      expect(await watcher.available('cap')).toBe(5)
      // The markers lapse up to a round trip (600 ms) before the reservations do: just before
      // expiresAt, nothing has come back and the reservation can still be confirmed.
      await sleep(Math.max(0, kept.expiresAt - Date.now() - 250))
      expect(await watcher.available('cap')).toBe(5)
      expect(await watcher.confirm('cap', kept.id)).toBe(true)
      await sleep(Math.max(0, lapsing.expiresAt - Date.now() - 150))
      expect(await watcher.available('cap')).toBe(5)
      await eventually(async () => (await watcher.available('cap')) === 8, 10_000, 'the lapsed units back')
      expect(await watcher.confirm('cap', lapsing.id)).toBe(false)
    } finally {
      await proxy.close()
      await Promise.allSettled([slow.close(), direct.close()])
    }
  }, 60_000)

  // Finding 21: a reservation's record expired keepMs after its lapse, settled or not, so a lapse
  // event handled later than lapseMs + keepMs (every consumer down) found nothing: units lost.
  it('inventory: a lapse handled long after lapseMs + keepMs still returns the units', async () => {
    const prefix = testPrefix()
    const first = await createRedkit({ url: standaloneUrl(), prefix })
    const shop = first.inventory('late', { lapseMs: 800, keepMs: 1 })
    await shop.setStock('mug', 10)
    expect(await shop.reserve('mug', 3, 'ann')).toBeDefined()
    expect(await shop.available('mug')).toBe(7)
    // Every process stops before the lapse; nobody handles it until well after lapse + keep.
    await first.close()
    await sleep(2500)
    const later = await createRedkit({ url: standaloneUrl(), prefix })
    try {
      const again = later.inventory('late', { lapseMs: 800, keepMs: 1 })
      await again.start()
      await eventually(async () => (await again.available('mug')) === 10, 15_000, 'the units back')
    } finally {
      await later.close()
    }
  }, 40_000)

  // Finding 23: without channel permissions a contended acquire failed with a raw SimpleError, and
  // release() threw after it had released (the PUBLISH inside the script was refused).
  it('without pub/sub channel permissions, waiters poll and release() reports the release', async () => {
    server = await startRedisServer()
    const admin = await rawClient(server.url)
    await admin.sendCommand(['ACL', 'SETUSER', 'nochan', 'on', '>nochan-pass', '~*', 'resetchannels', '+@all'])
    await admin.quit()
    const url = `redis://nochan:nochan-pass@${server.host}:${server.port}`
    const a = await createRedkit({ url })
    const b = await createRedkit({ url })
    a.on('error', () => {})
    b.on('error', () => {})
    try {
      const holder = a.lock('acl')
      await holder.acquire()
      const waiter = b.lock('acl', { pollMs: 200 })
      const waiting = waiter.acquire({ timeoutMs: 5000 })
      await sleep(300)
      expect(await holder.release()).toBe(true)
      await waiting
      expect(waiter.held).toBe(true)
      expect(await waiter.release()).toBe(true)
    } finally {
      await a.close()
      await b.close()
    }
  }, 30_000)
})
