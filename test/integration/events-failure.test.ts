import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { hashSlot } from '../../src/core/keys.js'
import type { ExpiryEvent } from '../../src/events/index.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { startChildren } from '../support/child.js'
import { PROCESS_TOPOLOGIES } from '../support/expect.js'
import { clusterNodes, clusterUrls, rawCluster, standaloneUrl, testPrefix } from '../support/redis.js'

const SWEEPER = fileURLToPath(new URL('../fixtures/expiry-sweeper.ts', import.meta.url))

/** Records deliveries per event id, and waits for a number of distinct ids. */
function ledger() {
  const byId = new Map<string, number>()
  const keysById = new Map<string, string>()
  let wake: (() => void) | undefined
  let target = Number.POSITIVE_INFINITY
  return {
    byId,
    handler(event: ExpiryEvent) {
      byId.set(event.id, (byId.get(event.id) ?? 0) + 1)
      keysById.set(event.id, event.key)
      if (byId.size >= target) wake?.()
    },
    distinctKeys: () => new Set(keysById.values()).size,
    waitFor(n: number, timeoutMs: number): Promise<void> {
      if (byId.size >= n) return Promise.resolve()
      target = n
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${byId.size} of ${n} distinct events`)), timeoutMs)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    },
  }
}

describe.each(PROCESS_TOPOLOGIES)('expiry failures on %s', (topology, options, env) => {
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
  })

  it('a group offline for 5 s while 10,000 keys expire gets all of them when it returns', async () => {
    const prefix = testPrefix()
    const writer = await createRedkit({ ...options(), prefix })
    const consumer = await createRedkit({ ...options(), prefix, expirations: { sweep: false } })
    const seen = ledger()
    // The group exists (it was online once), then goes away.
    const first = await consumer.expirations.on(`${prefix}:*`, seen.handler, { group: 'offline' })
    await first.close()
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => writer.expirations.set(`${prefix}:k${i}`, i, { ttlMs: 200 + (i % 2000) })))
    await new Promise((r) => setTimeout(r, 5000))
    expect(seen.byId.size).toBe(0)
    await consumer.expirations.on(`${prefix}:*`, seen.handler, { group: 'offline' })
    await seen.waitFor(10_000, 20_000)
    expect(seen.distinctKeys()).toBe(10_000)
    await Promise.all([writer.close(), consumer.close()])
  }, 60_000)

  it('three sweeping processes, one killed with SIGKILL mid-sweep: nothing lost, each event once per group', async () => {
    const prefix = testPrefix()
    const e = { ...env(), REDKIT_PREFIX: prefix }
    // Three tsx processes starting at once take long on a loaded machine.
    children.push(...(await startChildren(3, SWEEPER, e, 60_000)))
    // This process writes and consumes but does not sweep: only the children move deadlines.
    const rk = await createRedkit({ ...options(), prefix, expirations: { sweep: false } })
    const seen = ledger()
    await rk.expirations.on(`${prefix}:*`, seen.handler, { group: 'crash' })
    const total = 3000
    await Promise.all(Array.from({ length: total }, (_, i) => rk.expirations.set(`${prefix}:k${i}`, i, { ttlMs: 300 + (i % 1500) })))
    await new Promise((r) => setTimeout(r, 700))
    children[0]?.kill('SIGKILL')
    await seen.waitFor(total, 20_000)
    expect(seen.distinctKeys()).toBe(total)
    const duplicated = [...seen.byId.values()].filter((n) => n > 1).length
    // Only a claim cut short by the kill may be delivered twice (Cluster), and then with the same id.
    if (topology === 'standalone') expect(duplicated).toBe(0)
    else expect(duplicated).toBeLessThanOrEqual(1000)
    await rk.close()
  }, 150_000)
})

describe('expiry delivery across a connection cut', () => {
  let rk: Redkit
  afterAll(() => rk?.close())

  it('resumes within 1 s after a 3 s outage heals, losing nothing', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const prefix = testPrefix()
    rk = await createRedkit({ url: proxy.url, prefix })
    rk.on('error', () => {})
    rk.expirations.events.on('error', () => {})
    const arrivals: number[] = []
    await rk.expirations.on(`${prefix}:*`, () => {
      arrivals.push(Date.now())
    })
    await Promise.all(Array.from({ length: 100 }, (_, i) => rk.expirations.set(`${prefix}:k${i}`, i, { ttlMs: 500 + i * 20 })))
    proxy.refuse(true)
    proxy.cut()
    await new Promise((r) => setTimeout(r, 3000))
    const healed = Date.now()
    proxy.refuse(false)
    while (arrivals.length < 100 && Date.now() - healed < 5000) await new Promise((r) => setTimeout(r, 20))
    expect(arrivals.length).toBe(100)
    // Everything due during the outage arrives within 1 s of the heal.
    expect(Math.max(...arrivals) - healed).toBeLessThan(1000)
    await rk.close()
    await proxy.close()
  }, 30_000)
})

describe('expiry delivery when a read reply is lost', () => {
  it('an event Redis gave to a consumer whose reply was cut runs at once after the reconnect, not after reclaimIdleMs', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const prefix = testPrefix()
    // The consumer reads through the proxy; the writer (and its sweeper) talks to Redis directly.
    const consumer = await createRedkit({ url: proxy.url, prefix })
    const writer = await createRedkit({ url: standaloneUrl(), prefix })
    for (const rk of [consumer, writer]) {
      rk.on('error', () => {})
      rk.expirations.events.on('error', () => {})
    }
    try {
      const arrivals: string[] = []
      await consumer.expirations.on(`${prefix}:*`, (event) => {
        arrivals.push(event.key)
      })
      // Let the consumer's blocking read reach Redis, then hold every reply in the proxy.
      await new Promise((r) => setTimeout(r, 300))
      proxy.pause()
      await writer.expirations.set(`${prefix}:lost-reply`, 1, { ttlMs: 50 })
      // Redis hands the event to the blocked read (it is now in the consumer's pending list) and
      // the reply waits in the proxy, which then drops it.
      const stream = `${prefix}:{exp}:events`
      const pending = async () => {
        const groups = (await writer.connection.send(['XINFO', 'GROUPS', stream], { key: stream })) as unknown[]
        return groups.reduce<number>((sum, group) => sum + Number((group as Record<string, unknown>).pending ?? 0), 0)
      }
      const deadline = Date.now() + 5000
      while ((await pending().catch(() => 0)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(await pending()).toBeGreaterThan(0)
      proxy.cut()
      proxy.resume()
      const healed = Date.now()
      while (arrivals.length === 0 && Date.now() - healed < 10_000) await new Promise((r) => setTimeout(r, 20))
      // reclaimIdleMs is 60 s: only the consumer's own recovery delivers it this soon.
      expect(arrivals).toEqual([`${prefix}:lost-reply`])
      expect(Date.now() - healed).toBeLessThan(5000)
    } finally {
      await consumer.close()
      await writer.close()
      await proxy.close()
    }
  }, 30_000)
})

describe('expiry on every cluster master', () => {
  it('delivers keys of all three masters', async () => {
    const prefix = testPrefix()
    const rk = await createRedkit({ cluster: { rootNodes: clusterUrls() }, prefix })
    const raw = await rawCluster()
    // One key per master, found by asking each master which slots it serves.
    const owners = new Set<string>()
    const keys: string[] = []
    for (let i = 0; keys.length < 3 && i < 10_000; i++) {
      const key = `${prefix}:m${i}`
      const slot = hashSlot(key)
      const master = raw.masters.find((m) => raw.slots[slot]?.master === m)
      const id = master ? `${master.host}:${master.port}` : ''
      if (id && !owners.has(id)) {
        owners.add(id)
        keys.push(key)
      }
    }
    expect(owners.size).toBe(clusterNodes().length)
    const seen = ledger()
    await rk.expirations.on(`${prefix}:*`, seen.handler)
    await Promise.all(keys.map((k) => rk.expirations.set(k, 1, { ttlMs: 150 })))
    await seen.waitFor(3, 5000)
    await raw.close()
    await rk.close()
  })
})

describe('expiry claims on Cluster', () => {
  it('a key re-set after a sweeper died holding its claim fires both expiries, each with its own deadline', async () => {
    const prefix = testPrefix()
    const writer = await createRedkit({ cluster: { rootNodes: clusterUrls() }, prefix, expirations: { sweep: false } })
    const key = `${prefix}:reclaimed`
    const first = await writer.expirations.set(key, 1, { ttlMs: 50 })
    await new Promise((r) => setTimeout(r, 120))
    // A sweeper claims the due entry and dies before appending and releasing it.
    const { scripts } = await import('../../src/events/scripts.js')
    const { ExpiryKeys } = await import('../../src/events/expiry-keys.js')
    const slot = new ExpiryKeys(writer.keys, true).forKey(key)
    const claim = await scripts.claim.run(writer.connection, [slot.index, slot.values, slot.claimed, slot.tracked], [100, 1000])
    expect(claim[2]).toBe(key)
    const second = await writer.expirations.set(key, 2, { ttlMs: 100 })
    const sweeper = await createRedkit({ cluster: { rootNodes: clusterUrls() }, prefix })
    const seen = ledger()
    await sweeper.expirations.on(`${prefix}:*`, seen.handler)
    await seen.waitFor(2, 5000)
    // The claimed expiry happened: the re-set must not erase it (it fires once its lease ends).
    expect([...seen.byId.keys()].sort()).toEqual([`${key}@${first}`, `${key}@${second}`].sort())
    await Promise.all([writer.close(), sweeper.close()])
  })
})
