import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BlockingConnection } from '../../src/core/blocking.js'
import { defineKeyedScript, defineScript } from '../../src/core/scripts.js'
import { hasExpiredEvents, readConfig } from '../../src/core/server-config.js'
import { StreamGroupReader } from '../../src/core/stream-group-reader.js'
import { createRedkit, isRedkitError, type Redkit, type RedkitOptions } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { clusterUrls, standaloneUrl, testPrefix } from '../support/redis.js'

const FIXTURES = new URL('../fixtures/lua/', import.meta.url)
const move = defineScript<[source: string, destination: string], [mode: string], string | null>('test-move', FIXTURES)
const quadruple = defineKeyedScript<{ first: string; second: string }, [n: number], number>('test-include', FIXTURES)

// The same contract on both topologies: every core feature must behave identically on Cluster.
const topologies: Array<[string, () => RedkitOptions, number]> = [
  ['standalone', () => ({ url: standaloneUrl() }), 1],
  ['cluster', () => ({ cluster: { rootNodes: clusterUrls() } }), 3],
]

describe.each(topologies)('core on %s', (topology, options, masters) => {
  let rk: Redkit

  beforeAll(async () => {
    rk = await createRedkit({ ...options(), prefix: testPrefix() })
  })
  afterAll(() => rk?.close())

  it('connects and reports its topology', async () => {
    expect(rk.topology).toBe(topology)
    expect(await rk.ping()).toBeGreaterThan(0)
    expect(rk.connection.masters()).toHaveLength(masters)
  })

  it('runs typed scripts with EVALSHA and recovers from NOSCRIPT', async () => {
    const q = rk.keys.object('script-test')
    await rk.connection.send(['SET', q('a'), 'hello'], { key: q('a') })
    expect(await move.run(rk.connection, [q('a'), q('b')], ['lenient'])).toBe('hello')
    expect(await rk.connection.send(['GET', q('b')], { key: q('b') })).toBe('hello')
    // Every node forgets its scripts (a restart, a failover): the next call must still work.
    await Promise.all(rk.connection.masters().map((node) => node.send(['SCRIPT', 'FLUSH'])))
    expect(await move.run(rk.connection, [q('b'), q('a')], ['lenient'])).toBe('hello')
    expect(await move.run(rk.connection, [q('missing'), q('a')], ['lenient'])).toBeNull()
  })

  it('runs scripts with their includes expanded, keys built from the header names', async () => {
    const q = rk.keys.object('script-include')
    expect(await quadruple.call(rk.connection, { first: q('a'), second: q('b') }, [5])).toBe(20)
  })

  it('maps error replies from scripts to RedkitError codes without touching data', async () => {
    const q = rk.keys.object('script-errors')
    await rk.connection.send(['SET', q('dst'), 'kept'], { key: q('dst') })
    expect(await errorCode(move.run(rk.connection, [q('none'), q('dst')], ['strict']))).toBe('E_INVALID_ARGUMENT')
    expect(await rk.connection.send(['GET', q('dst')], { key: q('dst') })).toBe('kept')
    expect(await errorCode(move.run(rk.connection, [q('one')] as unknown as [string, string], ['x']))).toBe('E_SCRIPT')
  })

  it('refuses scripts whose keys span slots on Cluster', async () => {
    const a = rk.keys.key('object-a', 'x')
    const b = rk.keys.key('object-b', 'x')
    const result = errorCode(move.run(rk.connection, [a, b], ['lenient']))
    expect(await result).toBe(topology === 'cluster' ? 'E_SCRIPT' : undefined)
  })

  it('opens dedicated connections for blocking commands, without the client command timeout', async () => {
    const key = rk.keys.key('blocking', 'list')
    const blocking = await rk.connection.dedicated()
    const started = Date.now()
    const popped = (blocking as { sendCommand: (...a: unknown[]) => Promise<unknown> }).sendCommand(
      ...(topology === 'cluster' ? [key, false, ['BLPOP', key, '10']] : [['BLPOP', key, '10']]),
    )
    setTimeout(() => void rk.connection.send(['RPUSH', key, 'v'], { key }), 200)
    expect(await popped).toEqual([key, 'v'])
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    await blocking.close()
  })

  it("a blocking command's error reply is the server's error (WRONGTYPE: E_REDIS), not E_CONNECTION (review 13)", async () => {
    const key = rk.keys.key('blocking', 'planted')
    await rk.connection.send(['SET', key, 'garbage'], { key })
    const blocking = new BlockingConnection(rk.connection)
    try {
      const read = blocking.call(['XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '100', 'STREAMS', key, '>'], key, 5000)
      expect(await errorCode(read)).toBe('E_REDIS')
      expect(await errorCode(blocking.call(['BLPOP', key, '0.1'], key, 5000))).toBe('E_REDIS')
    } finally {
      blocking.close()
    }
    // Closed: E_CLOSED, as before.
    expect(await errorCode(blocking.call(['BLPOP', key, '0.1'], key, 5000))).toBe('E_CLOSED')
  })

  it('a stream group reader has the component lifecycle: one close for every caller, start after it refused', async () => {
    const q = rk.keys.object('reader-life')
    const errors: unknown[] = []
    const reader = new StreamGroupReader(rk.connection, {
      kind: 'presence',
      name: 'devices',
      stream: q('s'),
      dead: q('dead'),
      failures: q('failures'),
      group: 'g',
      from: 'new',
      attempts: 1,
      backoff: { delayMs: 10 },
      concurrency: 1,
      reclaimIdleMs: 1000,
      maxDeadLetters: 10,
      orderKey: () => '',
      handle: async () => {},
      onDead: () => [],
      onError: (error) => errors.push(error),
    })
    await reader.start()
    const closing = reader.close()
    expect(reader.stop()).toBe(closing)
    await closing
    expect(reader.state).toBe('closed')
    // Named after its owner, as the owner's own errors are.
    await expect(reader.start()).rejects.toMatchObject({ code: 'E_CLOSED', message: 'presence devices is closed' })
    expect(errors).toEqual([])
  })

  it('reports undecodable stored values as E_DECODE', async () => {
    const key = rk.keys.key('codec', 'value')
    await rk.connection.send(['SET', key, '{"broken'], { key })
    const raw = await rk.connection.send<string>(['GET', key], { key })
    let code: string | undefined
    try {
      rk.codec.decode(raw)
    } catch (error) {
      code = isRedkitError(error) ? error.code : 'other'
    }
    expect(code).toBe('E_DECODE')
    expect(rk.codec.decode(rk.codec.encode({ at: new Date(5) }))).toEqual({ at: new Date(5) })
  })

  it('runs the doctor on every master', async () => {
    const report = await rk.doctor()
    expect(report.nodes).toHaveLength(masters)
    expect(report.nodes.every((n) => n.version?.startsWith('7.'))).toBe(true)
    // Other test files switch keyspace events on (native mode) on these shared servers: the doctor
    // must report exactly the masters where they are off, each with the exact fix.
    for (const node of rk.connection.masters()) {
      const flags = (await readConfig(node, ['notify-keyspace-events']))?.get('notify-keyspace-events') ?? ''
      const finding = report.findings.find((f) => f.id === 'notify-keyspace-events' && f.node === node.address)
      if (hasExpiredEvents(flags)) expect(finding).toBeUndefined()
      else expect(finding?.fix).toContain('CONFIG SET notify-keyspace-events')
    }
  })
})

describe('createRedkit input', () => {
  it('rejects bad options with typed errors', async () => {
    expect(await errorCode(createRedkit({ url: 'http://x' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(createRedkit({ url: standaloneUrl(), prefix: 'a:b' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(createRedkit({ url: standaloneUrl(), cluster: { rootNodes: clusterUrls() } }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(createRedkit({ cluster: { rootNodes: [] } }))).toBe('E_INVALID_ARGUMENT')
  })

  it('close() is idempotent and later commands fail with E_CLOSED', async () => {
    const rk = await createRedkit({ url: standaloneUrl(), prefix: testPrefix() })
    await Promise.all([rk.close(), rk.close()])
    expect(await errorCode(rk.ping())).toBe('E_CLOSED')
    expect(() => rk.onClose(() => {})).toThrow()
  })

  it('runs registered closers before releasing the connection', async () => {
    const rk = await createRedkit({ url: standaloneUrl(), prefix: testPrefix() })
    const order: string[] = []
    rk.onClose(async () => {
      await rk.ping()
      order.push('component')
    })
    rk.on('close', () => order.push('closed'))
    await rk.close()
    expect(order).toEqual(['component', 'closed'])
  })
})
