import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExpiryEvent } from '../../src/events/index.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { startChaosProxy } from '../support/chaos-proxy.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// Consumer groups of reliable expirations: who shares a group, what a group's options mean, and a
// first subscription that fails. (Issue 10, items 2, 6, 9 and 12.)
describe.each(TOPOLOGIES)('expiry consumer groups on %s', (_topology, options) => {
  let a: Redkit
  let b: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    a = await createRedkit({ ...options(), prefix })
    b = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => Promise.all([a?.close(), b?.close()]))

  it('subscriptions of different patterns in different processes, with no group named, each get all their events', async () => {
    const cacheSeen = new Set<string>()
    const sessionSeen = new Set<string>()
    const subA = await a.expirations.on(`${prefix}:cache:*`, (e) => {
      cacheSeen.add(e.key)
    })
    const subB = await b.expirations.on(`${prefix}:sess:*`, (e) => {
      sessionSeen.add(e.key)
    })
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        Promise.all([
          a.expirations.set(`${prefix}:cache:${i}`, i, { ttlMs: 100 }),
          a.expirations.set(`${prefix}:sess:${i}`, i, { ttlMs: 100 }),
        ]),
      ),
    )
    await eventually(() => cacheSeen.size === 50 && sessionSeen.size === 50, 10_000, 'all 100 events')
    await Promise.all([subA.close(), subB.close()])
  })

  it('runs exactly `concurrency` handlers at once', async () => {
    let inFlight = 0
    let most = 0
    let done = 0
    const sub = await a.expirations.on(
      `${prefix}:conc:*`,
      async () => {
        inFlight++
        most = Math.max(most, inFlight)
        await sleep(60)
        inFlight--
        done++
      },
      { group: 'conc', concurrency: 8 },
    )
    await Promise.all(Array.from({ length: 64 }, (_, i) => a.expirations.set(`${prefix}:conc:${i}`, i, { ttlMs: 50 + i * 4 })))
    await eventually(() => done === 64, 15_000, '64 handled')
    expect(most).toBe(8)
    await sub.close()
  })

  it('rejects a second subscription of a group with conflicting options, and native options it cannot honour', async () => {
    const sub = await a.expirations.on(`${prefix}:opt:*`, () => {}, { group: 'opt', attempts: 3, concurrency: 4 })
    expect(await errorCode(a.expirations.on(`${prefix}:opt:*`, () => {}, { group: 'opt', attempts: 5 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(a.expirations.on(`${prefix}:opt:*`, () => {}, { group: 'opt', concurrency: 8 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(a.expirations.on(`${prefix}:opt:*`, () => {}, { group: 'opt', from: 'retained' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(a.expirations.on(`${prefix}:opt:*`, () => {}, { group: 'opt', backoff: { delayMs: 5 } }))).toBe(
      'E_INVALID_ARGUMENT',
    )
    // The same options (or none) join the group.
    const same = await a.expirations.on(`${prefix}:opt:*`, () => {}, { group: 'opt', attempts: 3 })
    await same.close()
    expect(await errorCode(a.expirations.on('x:*', () => {}, { mode: 'native', withValue: true }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(a.expirations.on('x:*', () => {}, { mode: 'native', group: 'g' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(a.expirations.on('x:*', () => {}, { mode: 'native', attempts: 2 }))).toBe('E_INVALID_ARGUMENT')
    await sub.close()
  })
})

describe('a first subscription that fails', () => {
  it('does not poison its group: the retry, once Redis is back, delivers', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const prefix = testPrefix()
    const rk = await createRedkit({ url: proxy.url, prefix, connectTimeoutMs: 3000 })
    const writer = await createRedkit({ url: standaloneUrl(), prefix })
    rk.on('error', () => {})
    rk.expirations.events.on('error', () => {})
    const seen: ExpiryEvent[] = []
    proxy.refuse(true)
    proxy.cut()
    expect(await errorCode(rk.expirations.on(`${prefix}:*`, (e) => void seen.push(e), { group: 'g' }))).toBeDefined()
    proxy.refuse(false)
    await eventually(
      async () => (await errorCode(rk.expirations.on(`${prefix}:*`, (e) => void seen.push(e), { group: 'g' }))) === undefined,
      10_000,
      'a subscription once Redis is back',
    )
    await writer.expirations.set(`${prefix}:k`, 1, { ttlMs: 50 })
    await eventually(() => seen.length === 1, 5000, 'the event')
    await Promise.all([rk.close(), writer.close()])
    await proxy.close()
  })
})
