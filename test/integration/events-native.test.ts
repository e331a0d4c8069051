import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { compileGlob } from '../../src/core/glob.js'
import type { ExpiryEvent } from '../../src/events/index.js'
import { NativeExpirySubscriber, parseClusterSlots } from '../../src/events/native.js'
import { aclRules, createRedkit, isRedkitError, type Redkit, type RedkitOptions } from '../../src/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { errorCode } from '../support/expect.js'
import { closeAll, clusterUrls, type RawClient, rawClient, standaloneUrl, testPrefix } from '../support/redis.js'
import { sleep } from '../support/wait.js'

function collector() {
  const events: ExpiryEvent[] = []
  const waiters: Array<{ test: () => boolean; resolve: () => void }> = []
  const check = () => {
    for (const w of [...waiters]) if (w.test()) w.resolve()
  }
  return {
    events,
    keys: () => events.map((e) => e.key),
    handler: (event: ExpiryEvent) => {
      events.push(event)
      check()
    },
    waitFor(n: number, timeoutMs = 5000): Promise<void> {
      return this.until(
        () => events.length >= n,
        timeoutMs,
        () => `got ${events.length} of ${n} events`,
      )
    },
    waitForKey(key: string, timeoutMs = 5000): Promise<void> {
      return this.until(
        () => events.some((e) => e.key === key),
        timeoutMs,
        () => `no event for ${key}`,
      )
    },
    until(test: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
      if (test()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const waiter = {
          test,
          resolve: () => {
            clearTimeout(timer)
            waiters.splice(waiters.indexOf(waiter), 1)
            resolve()
          },
        }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(new Error(why()))
        }, timeoutMs)
        waiters.push(waiter)
      })
    },
  }
}

async function poll(test: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** Sets keys that expire at once: a short PX, then an access once due, so Redis expires (and notifies) now. */
async function expireNow(rk: Redkit, keys: string[]): Promise<void> {
  await Promise.all(keys.map((key) => rk.connection.send(['SET', key, 'v', 'PX', '1'], { key })))
  await sleep(5)
  await Promise.all(keys.map((key) => rk.connection.send(['EXISTS', key], { key })))
}

// The standalone variant uses database 5 so that PUBSUB NUMSUB counts only this file's subscribers
// and the database comes from the URL path.
const topologies: Array<[string, () => RedkitOptions]> = [
  ['standalone', () => ({ url: `${standaloneUrl()}/5` })],
  ['cluster', () => ({ cluster: { rootNodes: clusterUrls() } })],
]

describe.each(topologies)('native expirations on %s', (topology, options) => {
  let rk: Redkit
  let prefix: string
  const errors: unknown[] = []

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
    rk.expirations.events.on('error', (error) => errors.push(error))
  })
  afterAll(() => rk?.close())

  it('delivers expirations of keys set by anyone, with native event fields', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:any:*`, c.handler, { mode: 'native' })
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:any:${i}`)
    const before = Date.now()
    await Promise.all(keys.map((key) => rk.connection.send(['SET', key, 'v', 'PX', '100'], { key })))
    await c.waitFor(30)
    expect(new Set(c.keys())).toEqual(new Set(keys))
    for (const e of c.events) {
      expect(e.mode).toBe('native')
      expect(e.deadline).toBeUndefined()
      expect(e.lateMs).toBeUndefined()
      expect(e.attempt).toBe(1)
      expect(e.id).toBe(`${e.key}@${e.firedAt}`)
      expect(e.firedAt).toBeGreaterThanOrEqual(before + 100)
    }
    await sub.close()
  })

  it('hears every master: keys spread over all of them are all delivered', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:spread:*`, c.handler, { mode: 'native' })
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:spread:${i}`)
    const masters = rk.connection.masters()
    if (topology === 'cluster') {
      // Which master owns each key, as the cluster itself says (CLUSTER KEYSLOT + CLUSTER SLOTS).
      const first = masters[0]
      if (!first) throw new Error('no master')
      const ranges = parseClusterSlots(await first.send(['CLUSTER', 'SLOTS']))
      const owners = new Set<string>()
      for (const key of keys) {
        const slot = Number(await first.send(['CLUSTER', 'KEYSLOT', key]))
        const owner = ranges.find((r) => r.from <= slot && slot <= r.to)?.master
        if (owner) owners.add(owner)
      }
      expect(masters).toHaveLength(3)
      expect(owners).toEqual(new Set(masters.map((m) => m.address)))
      // One subscriber on each master.
      for (const master of masters) {
        const numsub = (await master.send<unknown[]>(['PUBSUB', 'NUMSUB', '__keyevent@0__:expired']))[1]
        expect(Number(numsub)).toBeGreaterThanOrEqual(1)
      }
    }
    await Promise.all(keys.map((key) => rk.connection.send(['SET', key, 'v', 'PX', String(50 + (key.length % 7) * 20)], { key })))
    await c.waitFor(60)
    expect(new Set(c.keys())).toEqual(new Set(keys))
    await sub.close()
  })

  it('filters by glob pattern; handlers share one subscription per master', async () => {
    const users = collector()
    const oneChar = collector()
    const classes = collector()
    const subs = await Promise.all([
      rk.expirations.on(`${prefix}:filter:user:*`, users.handler, { mode: 'native' }),
      rk.expirations.on(`${prefix}:filter:?`, oneChar.handler, { mode: 'native' }),
      rk.expirations.on(`${prefix}:filter:[ab]x`, classes.handler, { mode: 'native' }),
    ])
    if (topology === 'standalone') {
      const master = rk.connection.masters()[0]
      const numsub = (await master?.send<unknown[]>(['PUBSUB', 'NUMSUB', '__keyevent@5__:expired']))?.[1]
      expect(Number(numsub)).toBe(1)
    }
    const keys = ['user:1', 'user:2', 'user', 'a', 'bb', 'ax', 'bx', 'cx', 'other:1'].map((k) => `${prefix}:filter:${k}`)
    await expireNow(rk, keys)
    await Promise.all([users.waitFor(2), oneChar.waitFor(1), classes.waitFor(2)])
    await sleep(200)
    expect(users.keys().sort()).toEqual([`${prefix}:filter:user:1`, `${prefix}:filter:user:2`])
    expect(oneChar.keys()).toEqual([`${prefix}:filter:a`])
    expect(classes.keys().sort()).toEqual([`${prefix}:filter:ax`, `${prefix}:filter:bx`])
    await Promise.all(subs.map((s) => s.close()))
  })

  it('a handler that throws or rejects does not stop delivery; its errors reach the error event', async () => {
    errors.length = 0
    const good = collector()
    let calls = 0
    const subs = await Promise.all([
      rk.expirations.on(
        `${prefix}:throws:*`,
        () => {
          calls++
          throw new Error('sync handler broke')
        },
        { mode: 'native' },
      ),
      rk.expirations.on(`${prefix}:throws:*`, async () => Promise.reject(new Error('async handler broke')), { mode: 'native' }),
      rk.expirations.on(`${prefix}:throws:*`, good.handler, { mode: 'native' }),
    ])
    await expireNow(rk, [`${prefix}:throws:1`])
    await good.waitFor(1)
    await expireNow(rk, [`${prefix}:throws:2`, `${prefix}:throws:3`])
    await good.waitFor(3)
    await poll(() => errors.length >= 6, 2000, 'six handler errors')
    expect(calls).toBe(3)
    // Every error the expirations emit is a RedkitError naming its source (the handler's error is its cause).
    expect(errors.every((e) => isRedkitError(e))).toBe(true)
    const messages = errors.map((e) => (e as Error).message)
    expect(messages.filter((m) => m === 'expirations: sync handler broke')).toHaveLength(3)
    expect(messages.filter((m) => m === 'expirations: async handler broke')).toHaveLength(3)
    await Promise.all(subs.map((s) => s.close()))
  })

  it('the last subscription close releases the per-master connections; a new one subscribes again', async () => {
    const native = new NativeExpirySubscriber(rk.connection, { onError: (e) => errors.push(e) })
    const c = collector()
    const a = await native.add(compileGlob(`${prefix}:release:*`), c.handler)
    const b = await native.add(compileGlob(`${prefix}:release:*`), () => {})
    const masters = rk.connection.masters().map((m) => m.address)
    expect(native.subscribedMasters.sort()).toEqual(masters.sort())
    const numsub = async () =>
      Number((await rk.connection.masters()[0]?.send<unknown[]>(['PUBSUB', 'NUMSUB', '__keyevent@5__:expired']))?.[1])
    const base = topology === 'standalone' ? await numsub() : 0
    await a.close()
    expect(native.subscribedMasters).toHaveLength(masters.length)
    await b.close()
    expect(native.subscribedMasters).toEqual([])
    if (topology === 'standalone') await poll(async () => (await numsub()) === base - 1, 2000, 'the subscriber to go away')
    const again = await native.add(compileGlob(`${prefix}:release:*`), c.handler)
    await expireNow(rk, [`${prefix}:release:1`])
    await c.waitFor(1)
    await native.close()
    expect(native.subscribedMasters).toEqual([])
    await again.close()
    expect(await errorCode(native.add(compileGlob('x'), () => {}))).toBe('E_CLOSED')
  })

  it('rejects invalid patterns, handlers and modes with RedkitError', async () => {
    expect(await errorCode(rk.expirations.on('', () => {}, { mode: 'native' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.on('bad\nkey', () => {}, { mode: 'native' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.on('a[b', () => {}, { mode: 'native' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on('a[]', () => {}, { mode: 'native' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on('trailing\\', () => {}, { mode: 'native' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on(42 as never, () => {}, { mode: 'native' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.on('a:*', 'nope' as never, { mode: 'native' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on('a:*', () => {}, { mode: 'psychic' as never }))).toBe('E_INVALID_ARGUMENT')
    expect(() => new NativeExpirySubscriber(rk.connection, { onError: () => {}, topologyCheckMs: 0 })).toThrow(/topologyCheckMs/)
  })
})

describe('native expirations: server configuration', () => {
  const servers: RedisProcess[] = []
  const clients: RawClient[] = []
  afterAll(async () => {
    await closeAll(...clients)
    await Promise.all(servers.map((s) => s.stop()))
  })

  it('enables Ex in notify-keyspace-events when CONFIG is allowed, keeping the flags already set', async () => {
    const server = await startRedisServer({ args: ['--notify-keyspace-events', 'Kg'] })
    servers.push(server)
    const rk = await createRedkit({ url: server.url })
    const c = collector()
    const sub = await rk.expirations.on('cfg:*', c.handler, { mode: 'native' })
    const raw = await rawClient(server.url)
    clients.push(raw)
    const flags = await keyspaceFlags(raw)
    expect([...flags].sort()).toEqual(['E', 'K', 'g', 'x'])
    await raw.sendCommand(['SET', 'cfg:1', 'v', 'PX', '50'])
    await c.waitFor(1)
    await sub.close()
    await rk.close()
  })

  it('fails with E_SERVER_CONFIG naming notify-keyspace-events when CONFIG is disabled and events are off', async () => {
    const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', ''] })
    servers.push(server)
    const rk = await createRedkit({ url: server.url })
    let error: unknown
    try {
      await rk.expirations.on('*', () => {}, { mode: 'native' })
    } catch (e) {
      error = e
    }
    expect(isRedkitError(error, 'E_SERVER_CONFIG')).toBe(true)
    expect((error as Error).message).toContain('notify-keyspace-events')
    expect((error as Error).message).toContain('"Ex"')
    expect((error as { details?: Record<string, unknown> }).details?.setting).toBe('notify-keyspace-events')
    // Nothing left subscribed.
    const raw = await rawClient(server.url)
    clients.push(raw)
    expect((await raw.sendCommand<unknown[]>(['PUBSUB', 'NUMSUB', '__keyevent@0__:expired']))[1]).toBe(0)
    await rk.close()
  })

  it('works where CONFIG is disabled but the operator set the flags (verified with a probe key)', async () => {
    const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', 'Ex'] })
    servers.push(server)
    const rk = await createRedkit({ url: server.url })
    const c = collector()
    const sub = await rk.expirations.on('*', c.handler, { mode: 'native' })
    const raw = await rawClient(server.url)
    clients.push(raw)
    await raw.sendCommand(['SET', 'managed:1', 'v', 'PX', '50'])
    await c.waitFor(1)
    // The probe key is never dispatched to handlers.
    expect(c.keys()).toEqual(['managed:1'])
    await sub.close()
    await rk.close()
  })

  it('names the ACL as the cause when CONFIG is disabled and the probe key is refused, not "must include Ex" (issue 13, item 13)', async () => {
    const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', 'Ex'] })
    servers.push(server)
    const admin = await rawClient(server.url)
    clients.push(admin)
    const rules = aclRules({ prefix: 'np' }).filter((rule) => rule !== '~__redkit:probe:*')
    await admin.sendCommand(['ACL', 'SETUSER', 'noprobe', 'on', '>noprobe-pass', ...rules])
    const rk = await createRedkit({ url: `redis://noprobe:noprobe-pass@${server.host}:${server.port}`, prefix: 'np' })
    const error = await rk.expirations.on('np:*', () => {}, { mode: 'native' }).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('E_PERMISSION')
    expect((error as Error).message).toContain('__redkit:probe:*')
    expect((error as Error).message).not.toContain('must include')
    await rk.close()
  })

  it("never hands another process's probe key to a '*' handler (issue 10, item 12)", async () => {
    const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', 'Ex'] })
    servers.push(server)
    const listening = await createRedkit({ url: server.url })
    const c = collector()
    const sub = await listening.expirations.on('*', c.handler, { mode: 'native' })
    // A second process subscribes: it probes, and its probe key expires on the same server.
    const other = await createRedkit({ url: server.url })
    await (await other.expirations.on('nothing:*', () => {}, { mode: 'native' })).close()
    const raw = await rawClient(server.url)
    clients.push(raw)
    await raw.sendCommand(['SET', 'managed:2', 'v', 'PX', '50'])
    await c.waitForKey('managed:2')
    expect(c.keys()).toEqual(['managed:2'])
    await sub.close()
    await Promise.all([listening.close(), other.close()])
  })
})

describe('native expirations: reconnects', () => {
  it('delivery resumes within 1 s after a 3 s connection cut heals', async () => {
    const prefix = testPrefix()
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({ url: proxy.url, prefix, maxReconnectDelayMs: 500 })
    const raw = await rawClient(standaloneUrl())
    try {
      const c = collector()
      const sub = await rk.expirations.on(`${prefix}:cut:*`, c.handler, { mode: 'native' })
      const expire = async (key: string) => {
        await raw.sendCommand(['SET', key, 'v', 'PX', '1'])
        await sleep(3)
        await raw.sendCommand(['EXISTS', key])
      }
      await expire(`${prefix}:cut:before`)
      await c.waitForKey(`${prefix}:cut:before`)

      proxy.refuse(true)
      proxy.cut()
      await expire(`${prefix}:cut:during`)
      await sleep(3000)
      proxy.refuse(false)
      const healed = Date.now()
      let i = 0
      let resumed: number | undefined
      while (Date.now() - healed < 3000) {
        const key = `${prefix}:cut:after:${i++}`
        await expire(key)
        await sleep(20)
        const first = c.events.find((e) => e.key.startsWith(`${prefix}:cut:after:`))
        if (first) {
          resumed = first.firedAt
          break
        }
      }
      expect(resumed, 'delivery never resumed').toBeDefined()
      expect((resumed ?? 0) - healed).toBeLessThan(1000)
      // Fire-and-forget: the expiry published while the subscriber was cut is gone.
      expect(c.keys()).not.toContain(`${prefix}:cut:during`)
      await sub.close()
    } finally {
      await rk.close()
      await closeAll(raw)
      await proxy.close()
    }
  })

  it('re-enables notifications after a reconnect when the server lost them (restart)', async () => {
    const server = await startRedisServer()
    const proxy = await startChaosProxy({ host: server.host, port: server.port })
    const rk = await createRedkit({ url: proxy.url, maxReconnectDelayMs: 200 })
    const raw = await rawClient(server.url)
    try {
      const c = collector()
      const sub = await rk.expirations.on('restart:*', c.handler, { mode: 'native' })
      // What a restart does to a CONFIG SET that was never written to redis.conf:
      await raw.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', ''])
      proxy.cut()
      await poll(async () => hasEx(await keyspaceFlags(raw)), 3000, 'Ex to be set again')
      await raw.sendCommand(['SET', 'restart:1', 'v', 'PX', '20'])
      await c.waitFor(1)
      await sub.close()
    } finally {
      await rk.close()
      await closeAll(raw)
      await proxy.close()
      await server.stop()
    }
  })
})

async function keyspaceFlags(raw: RawClient): Promise<string> {
  const reply = await raw.sendCommand<unknown>(['CONFIG', 'GET', 'notify-keyspace-events'])
  if (Array.isArray(reply)) return String(reply[1] ?? '')
  if (reply instanceof Map) return String(reply.get('notify-keyspace-events') ?? '')
  return String((reply as Record<string, unknown>)['notify-keyspace-events'] ?? '')
}

function hasEx(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

// The announced IP: a node alone in its cluster does not know its own address yet.
const CLUSTER_ARGS = [
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  'nodes.conf',
  '--cluster-node-timeout',
  '2000',
  '--cluster-announce-ip',
  '127.0.0.1',
]

describe('native expirations: Cluster topology changes', () => {
  let a: RedisProcess
  let b: RedisProcess
  let ca: RawClient
  let cb: RawClient

  beforeAll(async () => {
    ;[a, b] = await Promise.all([startRedisServer({ args: CLUSTER_ARGS }), startRedisServer({ args: CLUSTER_ARGS })])
    ;[ca, cb] = await Promise.all([rawClient(a.url), rawClient(b.url)])
    // A one-master cluster owning every slot.
    await ca.sendCommand(['CLUSTER', 'ADDSLOTSRANGE', '0', '16383'])
    await poll(async () => /cluster_state:ok/.test(await ca.sendCommand<string>(['CLUSTER', 'INFO'])), 10_000, 'cluster state ok')
  })
  afterAll(async () => {
    await closeAll(ca, cb)
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('subscribes to a master that joins and takes slots, and drops it when it gives them back', async () => {
    const rk = await createRedkit({ cluster: { rootNodes: [a.url] }, prefix: 'topo' })
    const errors: unknown[] = []
    const native = new NativeExpirySubscriber(rk.connection, { onError: (e) => errors.push(e), topologyCheckMs: 100 })
    try {
      const c = collector()
      await native.add(compileGlob('topo:*'), c.handler)
      expect(native.subscribedMasters).toEqual([`127.0.0.1:${a.port}`])

      const [idA, idB] = await Promise.all([ca.sendCommand<string>(['CLUSTER', 'MYID']), cb.sendCommand<string>(['CLUSTER', 'MYID'])])
      await cb.sendCommand(['CLUSTER', 'MEET', a.host, String(a.port)])
      await poll(async () => (await ca.sendCommand<string>(['CLUSTER', 'NODES'])).includes(idB), 5000, 'A to know B')
      await poll(async () => (await cb.sendCommand<string>(['CLUSTER', 'NODES'])).includes(idA), 5000, 'B to know A')

      // Move the (empty) slot of one key to B, as redis-cli --cluster reshard does.
      const key = 'topo:moved'
      const slot = String(await ca.sendCommand(['CLUSTER', 'KEYSLOT', key]))
      const started = Date.now()
      await cb.sendCommand(['CLUSTER', 'SETSLOT', slot, 'IMPORTING', idA])
      await ca.sendCommand(['CLUSTER', 'SETSLOT', slot, 'MIGRATING', idB])
      await cb.sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', idB])
      await ca.sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', idB])
      await poll(() => native.subscribedMasters.includes(`127.0.0.1:${b.port}`), 5000, 'the new master to be subscribed')
      expect(Date.now() - started).toBeLessThan(3000)
      expect(native.subscribedMasters).toHaveLength(2)

      // B got Ex from redkit and its expirations are heard; A's still are. (A new master serves
      // writes once its own view of the cluster is ok.)
      await poll(async () => /cluster_state:ok/.test(await cb.sendCommand<string>(['CLUSTER', 'INFO'])), 10_000, 'B to be ok')
      await cb.sendCommand(['SET', key, 'v', 'PX', '50'])
      await ca.sendCommand(['SET', 'topo:stayed', 'v', 'PX', '50'])
      await c.waitFor(2)
      expect(c.keys().sort()).toEqual(['topo:moved', 'topo:stayed'])

      // Give the slot back: B owns nothing, is no longer a master of the slot map, and is dropped.
      await ca.sendCommand(['CLUSTER', 'SETSLOT', slot, 'IMPORTING', idB])
      await cb.sendCommand(['CLUSTER', 'SETSLOT', slot, 'MIGRATING', idA])
      // (The source first: a master told by gossip that it lost its last slot becomes a replica.)
      await cb.sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', idA])
      await ca.sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', idA])
      await poll(() => native.subscribedMasters.length === 1, 5000, 'the old master to be dropped')
      expect(native.subscribedMasters).toEqual([`127.0.0.1:${a.port}`])
      await poll(
        async () => Number((await cb.sendCommand<unknown[]>(['PUBSUB', 'NUMSUB', '__keyevent@0__:expired']))[1]) === 0,
        2000,
        'the subscriber on B to close',
      )
      expect(errors).toEqual([])
    } finally {
      await native.close()
      await rk.close()
    }
  })
})
