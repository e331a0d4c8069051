import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster, portOfSlot } from '../support/cluster.js'
import { errorCode, thrownCode } from '../support/expect.js'
import { closeAll, type RawClient, rawClient } from '../support/redis.js'
import { eventually } from '../support/wait.js'

// `durable: { replicas, timeoutMs }` (issue 16 item 5): a queue add or a lock acquisition resolves
// only once the replica has it, read straight from the replica; with the replica frozen (SIGSTOP),
// it fails with E_NOT_DURABLE after timeoutMs, the lock is given back, and the shared connection's
// other traffic is never held up by the WAIT.
describe('durable writes (WAIT)', () => {
  let primary: RedisProcess
  let replica: RedisProcess
  let onReplica: RawClient
  let rk: Redkit
  const durable = { replicas: 1, timeoutMs: 300 }
  // The lock's holders hash: one field per holder, plus '_f', the last fencing token.
  const holdersOnReplica = async (name: string) =>
    (await onReplica.sendCommand<string[]>(['HKEYS', `dur:{lock:${name}}:holders`])).filter((field) => field !== '_f').length

  beforeAll(async () => {
    primary = await startRedisServer()
    replica = await startRedisServer({ args: ['--replicaof', primary.host, String(primary.port)] })
    onReplica = await rawClient(replica.url)
    await eventually(
      async () => /master_link_status:up/.test(await onReplica.sendCommand<string>(['INFO', 'replication'])),
      10_000,
      'in sync',
    )
    rk = await createRedkit({ url: primary.url, prefix: 'dur' })
    rk.on('error', () => {})
  }, 30_000)

  afterAll(async () => {
    replica?.signal('SIGCONT')
    await rk?.close()
    await closeAll(onReplica)
    await Promise.all([replica?.stop(), primary?.stop()])
  })

  it('a durable add is on the replica when it resolves; a durable lock hold too', async () => {
    const queue = rk.queue<{ n: number }>('orders', { durable })
    for (let n = 0; n < 20; n++) {
      await queue.add({ n })
      // Read at once from the replica, with no wait of our own.
      expect(await onReplica.sendCommand(['LLEN', queue.keys.ready])).toBe(n + 1)
    }
    const lock = rk.lock('order-7', { durable, ttlMs: 10_000 })
    expect(await lock.tryAcquire()).toBe(true)
    expect(await holdersOnReplica('order-7')).toBe(1)
    await lock.release()
  })

  it('a handed-over durable lock waits for the replica too', async () => {
    const first = rk.lock('handoff', { durable, ttlMs: 10_000 })
    const second = rk.lock('handoff', { durable, ttlMs: 10_000 })
    await first.acquire()
    const waiting = second.acquire({ timeoutMs: 5000 })
    setTimeout(() => void first.release(), 100)
    await waiting
    expect(second.held).toBe(true)
    expect(await holdersOnReplica('handoff')).toBe(1)
    await second.release()
  })

  it('with the replica frozen: E_NOT_DURABLE after timeoutMs, the job is queued on the master, the lock is given back, other traffic flows', async () => {
    const queue = rk.queue<{ n: number }>('frozen', { durable })
    const plain = rk.queue<{ n: number }>('frozen-plain')
    replica.signal('SIGSTOP')
    try {
      const started = Date.now()
      const adding = queue.add({ n: 1 })
      // Meanwhile the shared connection answers at once: WAIT runs on a connection of its own.
      const plainStarted = Date.now()
      for (let i = 0; i < 10; i++) await plain.add({ n: i })
      const plainMs = Date.now() - plainStarted
      expect(await errorCode(adding)).toBe('E_NOT_DURABLE')
      const waited = Date.now() - started
      expect(waited).toBeGreaterThanOrEqual(durable.timeoutMs - 20)
      expect(plainMs).toBeLessThan(durable.timeoutMs)
      expect((await queue.counts()).waiting).toBe(1)

      const lock = rk.lock('frozen-lock', { durable, ttlMs: 10_000 })
      expect(await errorCode(lock.tryAcquire())).toBe('E_NOT_DURABLE')
      expect(lock.held).toBe(false)
      // Given back: another handle (not durable) gets it at once.
      const other = rk.lock('frozen-lock', { ttlMs: 10_000 })
      expect(await other.tryAcquire()).toBe(true)
      await other.release()
    } finally {
      replica.signal('SIGCONT')
    }
  })

  it('a durable expiry write is on the replica when it resolves; with the replica frozen, E_NOT_DURABLE and the expiry still fires', async () => {
    const timed = await createRedkit({ url: primary.url, prefix: 'dur-exp', expirations: { durable } })
    timed.on('error', () => {})
    try {
      const fired: string[] = []
      await timed.expirations.on('dur-exp:res:*', (event) => void fired.push(event.key))
      for (let n = 0; n < 10; n++) {
        await timed.expirations.set(`dur-exp:res:${n}`, n, { ttlMs: 60_000 })
        // The key and its deadline, read at once from the replica.
        expect(await onReplica.sendCommand(['EXISTS', `dur-exp:res:${n}`])).toBe(1)
      }
      const deadlines = await onReplica.sendCommand<string[]>(['KEYS', 'dur-exp:{exp}*'])
      expect(deadlines.length).toBeGreaterThan(0)
      replica.signal('SIGSTOP')
      try {
        expect(await errorCode(timed.expirations.set('dur-exp:res:frozen', 1, { ttlMs: 300 }))).toBe('E_NOT_DURABLE')
      } finally {
        replica.signal('SIGCONT')
      }
      // On the master all the same: its expiry is delivered.
      await eventually(() => fired.includes('dur-exp:res:frozen'), 10_000, 'the expiry of a write that was not durable')
    } finally {
      await timed.close()
    }
  })

  it('refuses bad durable options with E_INVALID_ARGUMENT', async () => {
    for (const bad of [
      null,
      1,
      'x',
      {},
      { replicas: 0, timeoutMs: 10 },
      { replicas: 1.5, timeoutMs: 10 },
      { replicas: 1, timeoutMs: -1 },
      { replicas: 1, timeoutMs: 2 ** 31 },
    ]) {
      expect(thrownCode(() => rk.queue('q', { durable: bad as never }))).toBe('E_INVALID_ARGUMENT')
      expect(thrownCode(() => rk.lock('l', { durable: bad as never }))).toBe('E_INVALID_ARGUMENT')
      const other = await createRedkit({ url: primary.url, prefix: 'dur-bad', expirations: { durable: bad as never } })
      expect(thrownCode(() => other.expirations)).toBe('E_INVALID_ARGUMENT')
      await other.close()
    }
  })
})

// On Cluster the slot directory learns a deadline after the write: a durable write that the replica
// did not acknowledge must still be told to it, or its event would never fire.
describe('durable expiry writes on Cluster', () => {
  let nodes: RedisProcess[] = []

  beforeAll(async () => {
    nodes = await Promise.all(Array.from({ length: 6 }, () => startRedisServer({ args: clusterArgs(60_000) })))
    await formCluster(nodes, undefined, { replicas: 1 })
  }, 90_000)

  afterAll(async () => {
    for (const node of nodes) node.signal('SIGCONT')
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it("with the key's replica frozen: E_NOT_DURABLE, and the expiry still fires", async () => {
    const rk = await createRedkit({
      cluster: { rootNodes: nodes.slice(0, 3).map((n) => n.url) },
      prefix: 'dur-cl',
      connectTimeoutMs: 1000,
      expirations: { durable: { replicas: 1, timeoutMs: 300 } },
    })
    rk.on('error', () => {})
    let replica: RedisProcess | undefined
    try {
      const fired: string[] = []
      await rk.expirations.on('dur-cl:*', (event) => void fired.push(event.key))
      const key = 'dur-cl:victim'
      const slots = await rk.connection.masters()[0]!.send<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'])
      const masterPort = portOfSlot(slots, hashSlot(key))
      for (const node of nodes) {
        const raw = await rawClient(node.url)
        const info = await raw.sendCommand<string>(['INFO', 'replication'])
        await raw.close()
        if (info.includes('role:slave') && info.includes(`master_port:${masterPort}`)) replica = node
      }
      expect(replica).toBeDefined()
      replica?.signal('SIGSTOP')
      expect(await errorCode(rk.expirations.set(key, 1, { ttlMs: 500 }))).toBe('E_NOT_DURABLE')
      await eventually(() => fired.includes(key), 10_000, 'the expiry of a write the replica did not acknowledge')
    } finally {
      replica?.signal('SIGCONT')
      await rk.close()
    }
  }, 60_000)
})
