import { afterEach, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { ExpiryKeys } from '../../src/events/expiry-keys.js'
import type { DeadLetter, ExpiryEvent } from '../../src/events/index.js'
import { scripts } from '../../src/events/scripts.js'
import { startChild, stopChild } from '../support/child.js'
import { PROCESS_TOPOLOGIES } from '../support/expect.js'
import { closeAll, clusterUrls, openedRedkits, rawClient, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// Delivery that survives Redis losing its data, consumers crashing, slow handlers and keys written
// again before their expiry was swept. (Issue 10, items 1, 3, 4, 5, 8 and 11.)

const servers: RedisProcess[] = []
const { open, closeOpened } = openedRedkits()
afterEach(async () => {
  await closeOpened()
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()))
})

describe('a Redis that loses its data', () => {
  it('close() returns within 10 s while Redis is down', async () => {
    const server = await startRedisServer()
    servers.push(server)
    const prefix = testPrefix()
    const rk = await open({ url: server.url, prefix })
    await rk.expirations.on(`${prefix}:*`, () => {}, { group: 'g' })
    await rk.expirations.set(`${prefix}:a`, 1, { ttlMs: 50 })
    await server.stop()
    const started = Date.now()
    await rk.close()
    expect(Date.now() - started).toBeLessThan(10_000)
  }, 30_000)

  it('FLUSHALL: the group is recreated, the loss reported once, delivery goes on', async () => {
    const server = await startRedisServer()
    servers.push(server)
    const prefix = testPrefix()
    const rk = await open({ url: server.url, prefix })
    const resets: string[] = []
    rk.expirations.events.on('reset', ({ group }) => resets.push(group))
    const seen = new Set<string>()
    await rk.expirations.on(`${prefix}:*`, (e) => void seen.add(e.key), { group: 'g' })
    await rk.expirations.set(`${prefix}:before`, 1, { ttlMs: 50 })
    await eventually(() => seen.has(`${prefix}:before`), 5000, 'the event before the flush')
    const raw = await rawClient(server.url)
    await raw.flushAll()
    await closeAll(raw)
    await eventually(() => resets.length > 0, 5000, 'the reset event')
    await rk.expirations.set(`${prefix}:after`, 1, { ttlMs: 50 })
    await eventually(() => seen.has(`${prefix}:after`), 5000, 'the event after the flush')
    await sleep(600)
    expect(resets).toEqual(['g'])
  })

  it('a restart without persistence: a group that comes back later gets the expiries since the restart', async () => {
    let server = await startRedisServer()
    servers.push(server)
    const prefix = testPrefix()
    // The group existed before the restart.
    const late = await open({ url: server.url, prefix, expirations: { sweep: false } })
    await (await late.expirations.on(`${prefix}:*`, () => {}, { group: 'late' })).close()
    await late.close()
    await server.stop()
    server = await startRedisServer({ port: server.port })
    servers.push(server)
    const writer = await open({ url: server.url, prefix })
    const swept = new Set<string>()
    await writer.expirations.on(`${prefix}:*`, (e) => void swept.add(e.key), { group: 'writer' })
    await Promise.all(Array.from({ length: 5 }, (_, i) => writer.expirations.set(`${prefix}:k${i}`, i, { ttlMs: 50 })))
    await eventually(() => swept.size === 5, 5000, 'the writer group got them (they are in the stream)')
    const back = await open({ url: server.url, prefix, expirations: { sweep: false } })
    const got = new Set<string>()
    await back.expirations.on(`${prefix}:*`, (e) => void got.add(e.key), { group: 'late' })
    await eventually(() => got.size === 5, 5000, 'the late group got the 5 expiries since the restart')
  })
})

describe.each(PROCESS_TOPOLOGIES)('expiry delivery on %s', (topology, options, env) => {
  it('attempts: 1 and a consumer killed while it handles: the event still reaches a handler, not the dead letters', async () => {
    const prefix = testPrefix()
    const child = await startChild('test/fixtures/expiry-consumer.ts', { ...env(), REDKIT_PREFIX: prefix, REDKIT_GROUP: 'crash' }, 60_000)
    let got = ''
    child.stdout?.on('data', (d: Buffer) => {
      got += d.toString()
    })
    try {
      const rk = await open({ ...options(), prefix, expirations: { reclaimIdleMs: 500 } })
      const dead: DeadLetter[] = []
      rk.expirations.events.on('dead', (l) => dead.push(l))
      await rk.expirations.set(`${prefix}:held`, 1, { ttlMs: 50 })
      await eventually(() => got.includes('got '), 5000, 'the child holds the event')
      await stopChild(child)
      const seen: ExpiryEvent[] = []
      await rk.expirations.on(`${prefix}:*`, (e) => void seen.push(e), { group: 'crash', attempts: 1 })
      await eventually(() => seen.length === 1, 8000, 'the event taken over')
      expect(seen[0]?.key).toBe(`${prefix}:held`)
      expect(seen[0]?.attempt).toBe(1)
      expect(dead).toEqual([])
      expect((await rk.expirations.deadLetters()).filter((l) => l.group === 'crash')).toEqual([])
    } finally {
      await stopChild(child)
    }
  }, 90_000)

  it('slow handlers in two processes of a group: each event handled once, none taken over or dead-lettered', async () => {
    const prefix = testPrefix()
    const settings = { ...options(), prefix, expirations: { reclaimIdleMs: 300 } }
    const [a, b] = [await open(settings), await open(settings)]
    const calls = new Map<string, number>()
    const handler = async (e: ExpiryEvent) => {
      calls.set(e.id, (calls.get(e.id) ?? 0) + 1)
      await sleep(1200)
    }
    const dead: DeadLetter[] = []
    for (const rk of [a, b]) rk.expirations.events.on('dead', (l) => dead.push(l))
    await a.expirations.on(`${prefix}:*`, handler, { group: 'slow', concurrency: 4 })
    await b.expirations.on(`${prefix}:*`, handler, { group: 'slow', concurrency: 4 })
    await Promise.all(Array.from({ length: 16 }, (_, i) => a.expirations.set(`${prefix}:s${i}`, i, { ttlMs: 50 })))
    await eventually(() => calls.size === 16, 15_000, 'all 16 handled')
    // Twice the handler time: a reclaim of a read still being handled would have shown by now.
    await sleep(2500)
    expect([...calls.values()].filter((n) => n > 1)).toEqual([])
    expect(dead).toEqual([])
  }, 30_000)

  it('a key written again after it expired but before a sweep: both expiries are delivered', async () => {
    const prefix = testPrefix()
    const writer = await open({ ...options(), prefix, expirations: { sweep: false } })
    const key = `${prefix}:reused`
    const first = await writer.expirations.set(key, 'a', { ttlMs: 50 })
    await eventually(async () => (await writer.connection.send<number>(['EXISTS', key], { key })) === 0, 2000, 'the key expired')
    const second = await writer.expirations.set(key, 'b', { ttlMs: 300 })
    const sweeper = await open({ ...options(), prefix })
    const seen: ExpiryEvent[] = []
    await sweeper.expirations.on(`${prefix}:*`, (e) => void seen.push(e), { withValue: true })
    await eventually(() => seen.length === 2, 5000, 'two expiries')
    expect(seen.map((e) => [e.id, e.value])).toEqual([
      [`${key}@${first}`, 'a'],
      [`${key}@${second}`, 'b'],
    ])
  })

  if (topology === 'cluster')
    it('a heartbeat after a sweeper died holding its lapse: the next lapse carries its own deadline', async () => {
      const prefix = testPrefix()
      const rk = await open({ cluster: { rootNodes: clusterUrls() }, prefix, expirations: { sweep: false } })
      const presence = rk.presence('devices', { ttlMs: 100 })
      await presence.beat('m1')
      const heartbeat = presence.heartbeatKey('m1')
      await eventually(async () => (await rk.connection.send<number>(['EXISTS', heartbeat], { key: heartbeat })) === 0, 2000, 'lapsed')
      const slot = new ExpiryKeys(rk.keys, true).forKey(heartbeat)
      // A sweeper claims the lapse and dies before appending it.
      const claim = await scripts.claim.run(rk.connection, [slot.index, slot.values, slot.claimed, slot.tracked], [100, 200])
      expect(claim[2]).toBe(heartbeat)
      await presence.beat('m1')
      const [member] = await presence.online()
      const sweeper = await open({ cluster: { rootNodes: clusterUrls() }, prefix })
      const seen: ExpiryEvent[] = []
      await sweeper.expirations.on(`${heartbeat}`, (e) => void seen.push(e), { group: 'watch' })
      await eventually(() => seen.some((e) => e.deadline === member?.deadline), 5000, 'the second lapse with its own deadline')
    })
})
