import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { hashSlot } from '../../src/core/keys.js'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { clusterArgs, formCluster, portOfSlot } from '../support/cluster.js'
import { eventually } from '../support/wait.js'
import { startWorkload } from '../support/workload.js'

/** The first key `<name><n>` whose slot the node on `port` serves, in a CLUSTER SLOTS reply. */
function keyOn(slots: Array<[number, number, [string, number]]>, port: number, name: string): string {
  for (let i = 0; ; i++) {
    const key = `${name}${i}`
    if (portOfSlot(slots, hashSlot(key)) === port) return key
  }
}

// A master that stops answering while its sockets stay open (SIGSTOP: a frozen process, as in a
// long GC pause of a VM) raises no socket error. Without a per-command timer, commands sent to it
// would wait forever; the health check PINGs each master and replaces the client of one that does
// not answer. The other nodes must not declare the frozen one failed meanwhile (a long node timeout),
// or the whole cluster would refuse commands.
describe('Cluster with a frozen master', () => {
  let nodes: RedisProcess[] = []
  let rk: Redkit

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs(60_000) })))
    await formCluster(nodes)
    rk = await createRedkit({
      cluster: { rootNodes: nodes.map((n) => n.url) },
      prefix: 'stall',
      connectTimeoutMs: 1000,
      healthCheckIntervalMs: 200,
      healthCheckTimeoutMs: 1000,
    })
    rk.on('error', () => {})
  }, 60_000)

  afterAll(async () => {
    for (const node of nodes) node.signal('SIGCONT')
    await rk?.close()
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('fails the commands held by the frozen master with E_CONNECTION within the bound, and serves again once it thaws', async () => {
    // A key on each master, found by asking the cluster which node serves its slot.
    const masters = rk.connection.masters()
    expect(masters).toHaveLength(3)
    const slots = await masters[0]!.send<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'])
    const frozen = nodes[0] as RedisProcess
    const frozenKey = keyOn(slots, frozen.port, 'k')
    const otherKey = keyOn(slots, (nodes[1] as RedisProcess).port, 'k')
    await rk.connection.send(['SET', frozenKey, 'a'], { key: frozenKey })
    await rk.connection.send(['SET', otherKey, 'b'], { key: otherKey })

    const reconnecting: string[] = []
    rk.on('reconnecting', (e) => reconnecting.push(e.error?.message ?? ''))
    frozen.signal('SIGSTOP')
    const started = Date.now()
    const held = rk.connection.send(['GET', frozenKey], { key: frozenKey }).then(
      () => 'answered',
      (error: unknown) => (isRedkitError(error) ? error.code : String(error)),
    )
    // The other masters keep serving while one is frozen.
    expect(await rk.connection.send(['GET', otherKey], { key: otherKey })).toBe('b')
    expect(await held).toBe('E_CONNECTION')
    // Detected by a PING unanswered for 1 s, checked every 200 ms.
    expect(Date.now() - started).toBeLessThan(5000)
    // The health check also reports the frozen node (the command's own bound may cut it first).
    await eventually(() => reconnecting.some((m) => m.includes(`${frozen.host}:${frozen.port}`)), 5000, 'the frozen node reported')

    frozen.signal('SIGCONT')
    await eventually(
      async () => (await rk.connection.send(['GET', frozenKey], { key: frozenKey }).catch(() => undefined)) === 'a',
      10_000,
      'the thawed master answers again',
    )
  }, 30_000)

  it('without the health check, a command to a frozen master is still cut at twice connectTimeoutMs, and no late reply counts', async () => {
    // A health check that would notice only after a minute: the command's own bound must act.
    const bounded = await createRedkit({
      cluster: { rootNodes: nodes.map((n) => n.url) },
      prefix: 'stall2',
      connectTimeoutMs: 1000,
      healthCheckIntervalMs: 60_000,
    })
    bounded.on('error', () => {})
    try {
      const masters = bounded.connection.masters()
      const slots = await masters[0]!.send<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'])
      const frozen = nodes[1] as RedisProcess
      const key = keyOn(slots, frozen.port, 'f')
      await bounded.connection.send(['SET', key, '1'], { key })
      frozen.signal('SIGSTOP')
      const started = Date.now()
      const outcome = await bounded.connection.send(['INCR', key], { key }).then(
        (value) => `answered ${String(value)}`,
        (error: unknown) => (isRedkitError(error) ? error.code : String(error)),
      )
      const waited = Date.now() - started
      frozen.signal('SIGCONT')
      expect(outcome).toBe('E_CONNECTION')
      // Twice connectTimeoutMs plus one sweep (a quarter of it), with room for a loaded machine.
      expect(waited).toBeLessThan(2000 * 1.25 + 1500)
      expect(waited).toBeGreaterThanOrEqual(1950)
    } finally {
      nodes[1]?.signal('SIGCONT')
      await bounded.close()
    }
  }, 30_000)
})

// On a cluster of its own: with a second redkit instance in the process the slow path did not show.
describe('rk.close() with a frozen Cluster master', () => {
  let nodes: RedisProcess[] = []

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs(60_000) })))
    await formCluster(nodes)
  }, 60_000)

  afterAll(async () => {
    for (const node of nodes) node.signal('SIGCONT')
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('returns within 5 s (connectTimeoutMs 1 s) while every module is busy', async () => {
    // Each component's close waits, bounded, for its calls in flight; with a frozen node those
    // bounds must not add up (they used to: worker 10 s + sweeper 4 s + connection 2 s).
    const busy = await createRedkit({
      cluster: { rootNodes: nodes.map((n) => n.url) },
      prefix: 'stall3',
      connectTimeoutMs: 1000,
      healthCheckIntervalMs: 200,
      healthCheckTimeoutMs: 1000,
    })
    busy.on('error', () => {})
    // Freeze the master of the worker's queue, which (with these names) also serves the lock and
    // the expirations: their closes waited longest.
    const slots = await busy.connection.masters()[0]!.send<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'])
    const port = portOfSlot(slots, hashSlot('{w-jobs}'))
    const frozen = nodes.find((n) => n.port === port) as RedisProcess
    try {
      const workload = await startWorkload(busy, 'w')
      await new Promise((resolve) => setTimeout(resolve, 1500))
      frozen.signal('SIGSTOP')
      await new Promise((resolve) => setTimeout(resolve, 300))
      const started = Date.now()
      void workload.stop(0).catch(() => {})
      await busy.close().catch(() => {})
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      frozen.signal('SIGCONT')
      await busy.close().catch(() => {})
    }
  }, 60_000)

  it('createRedkit connects while one root node is frozen, wherever node-redis starts its discovery', async () => {
    // node-redis picks a random root node to ask for the slot map: without a bound on that client,
    // one start in three waited on the frozen node until connectTimeoutMs and failed.
    const frozen = nodes[0] as RedisProcess
    frozen.signal('SIGSTOP')
    try {
      for (let attempt = 0; attempt < 8; attempt++) {
        const started = Date.now()
        const rk = await createRedkit({ cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: 'stall4', connectTimeoutMs: 1000 })
        rk.on('error', () => {})
        expect(Date.now() - started).toBeLessThan(1500)
        await rk.close()
      }
    } finally {
      frozen.signal('SIGCONT')
    }
  }, 60_000)

  it('fails the commands still waiting on a frozen master at close with E_CLOSED, at once', async () => {
    // node-redis empties its node list when a graceful close starts, so destroying the cluster client
    // afterwards missed the node client stuck on the frozen master: its commands never settled.
    const rk = await createRedkit({ cluster: { rootNodes: nodes.map((n) => n.url) }, prefix: 'stall5', connectTimeoutMs: 1000 })
    rk.on('error', () => {})
    const slots = await rk.connection.masters()[0]!.send<Array<[number, number, [string, number]]>>(['CLUSTER', 'SLOTS'])
    const frozen = nodes[1] as RedisProcess
    const key = keyOn(slots, frozen.port, 'pending')
    await rk.connection.send(['SET', key, '0'], { key })
    frozen.signal('SIGSTOP')
    try {
      const pending = [1, 2, 3].map(() =>
        rk.connection.send(['INCR', key], { key }).then(
          () => 'answered',
          (error: unknown) => (isRedkitError(error) ? error.code : String(error)),
        ),
      )
      await new Promise((resolve) => setTimeout(resolve, 200))
      await rk.close()
      const settled = await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(() => resolve('still pending'), 2000))])
      expect(settled).toEqual(['E_CLOSED', 'E_CLOSED', 'E_CLOSED'])
    } finally {
      frozen.signal('SIGCONT')
    }
  }, 60_000)
})
