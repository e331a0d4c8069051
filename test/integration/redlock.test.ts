import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedlock } from '../../src/lock/index.js'
import { errorCode, thrownCode } from '../support/expect.js'
import { closeAll, testPrefix, trioUrls } from '../support/redis.js'
import { sleep } from '../support/wait.js'

async function connect(url: string) {
  // A dead server must fail calls at once, not queue them: Redlock bounds each call anyway.
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 100 } })
  client.on('error', () => {})
  await client.connect()
  return client
}

describe('redlock over three independent servers', () => {
  let servers: RedisProcess[]
  let clients: Awaited<ReturnType<typeof connect>>[]
  let others: Awaited<ReturnType<typeof connect>>[]

  beforeAll(async () => {
    // Servers of its own: these tests kill them.
    servers = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()])
    clients = await Promise.all(servers.map((s) => connect(s.url)))
    others = await Promise.all(servers.map((s) => connect(s.url)))
  })
  afterAll(async () => {
    await closeAll(...(clients ?? []), ...(others ?? []))
    await Promise.all((servers ?? []).map((s) => s.stop()))
  })

  it('one holder at a time across two Redlock instances, with growing tokens', async () => {
    const prefix = testPrefix()
    const a = createRedlock(clients, { prefix }).lock('res')
    const b = createRedlock(others, { prefix }).lock('res')
    expect(await a.tryAcquire()).toBe(true)
    expect(await b.tryAcquire()).toBe(false)
    const first = a.token as number
    const waited = b.acquire({ timeoutMs: 2000 })
    await sleep(100)
    expect(await a.release()).toBe(true)
    await waited
    expect(b.token).toBeGreaterThan(first)
    expect(await a.release()).toBe(false)
    await b.release()
  })

  // Finding 10: the local deadline, validUntil and held used the default drift, not driftFactor.
  it('driftFactor shortens the local deadline and validUntil', async () => {
    const prefix = testPrefix()
    const redlock = createRedlock(clients, { prefix, ttlMs: 10_000, driftFactor: 0.5, watchdog: false, serverTimeoutMs: 2000 })
    const lock = redlock.lock('drift')
    const before = Date.now()
    expect(await lock.tryAcquire()).toBe(true)
    const valid = (lock.validUntil as number) - before
    expect(valid).toBeLessThanOrEqual(10_000 * 0.5)
    expect(valid).toBeGreaterThan(2000)
    await lock.release()
  })

  // Finding 15 for Redlock: close() ended the watchdog but left the signal live and the holds in place.
  it('close() aborts a held lock’s signal and releases it on every server', async () => {
    const prefix = testPrefix()
    const redlock = createRedlock(clients, { prefix, ttlMs: 10_000, serverTimeoutMs: 2000 })
    const lock = redlock.lock('closing')
    expect(await lock.tryAcquire()).toBe(true)
    const signal = lock.signal as AbortSignal
    await redlock.close()
    expect(signal.aborted).toBe(true)
    expect(await createRedlock(others, { prefix, serverTimeoutMs: 2000 }).lock('closing').tryAcquire()).toBe(true)
  })

  it('mutual exclusion under contention', async () => {
    const prefix = testPrefix()
    const locks = [
      createRedlock(clients, { prefix, retryDelayMs: 5, retryJitterMs: 5 }),
      createRedlock(others, { prefix, retryDelayMs: 5, retryJitterMs: 5 }),
    ]
    let inside = 0
    let most = 0
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        for (let n = 0; n < 10; n++) {
          await locks[i % 2]?.lock('busy').using(
            async () => {
              inside++
              most = Math.max(most, inside)
              await sleep(1)
              inside--
            },
            { timeoutMs: 20_000 },
          )
        }
      }),
    )
    expect(most).toBe(1)
  })

  it('stays safe when one server is killed during the hold, and fails within its timeout when two are down', async () => {
    const prefix = testPrefix()
    const holder = createRedlock(clients, { prefix, ttlMs: 600 }).lock('failover')
    const rival = createRedlock(others, { prefix, ttlMs: 600 })
    await holder.acquire()
    const lost: unknown[] = []
    holder.onLost((e) => lost.push(e))
    servers[0]?.signal('SIGKILL')
    await servers[0]?.exited
    // The watchdog keeps a majority (2 of 3) past several TTLs, and nobody else gets in.
    await sleep(1500)
    expect(lost).toEqual([])
    expect(holder.held).toBe(true)
    expect(await rival.lock('failover').tryAcquire()).toBe(false)
    expect(await holder.release()).toBe(true)

    servers[1]?.signal('SIGKILL')
    await servers[1]?.exited
    const started = Date.now()
    expect(await errorCode(rival.lock('failover').acquire({ timeoutMs: 500 }))).toBe('E_LOCK_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('rejects bad input with typed errors', () => {
    expect(thrownCode(() => createRedlock([]))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => createRedlock([{}] as never))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => createRedlock(trioUrls() as never))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => createRedlock(clients, { ttlMs: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => createRedlock(clients, { driftFactor: 2 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => createRedlock(clients).lock('a{b}'))).toBe('E_INVALID_KEY')
  })
})
