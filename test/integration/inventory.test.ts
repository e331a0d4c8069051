import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { startChild, stopChild } from '../support/child.js'
import { errorCode, PROCESS_TOPOLOGIES, thrownCode } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

const BUYER = new URL('../fixtures/inventory-buyer.ts', import.meta.url).pathname

describe.each(PROCESS_TOPOLOGIES)('inventory on %s', (_topology, options, env) => {
  let rk: Redkit
  let other: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
    other = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
    await other?.close()
  })

  it('200 concurrent buyers for 100 units: exactly 100 reserved, and lapsed reservations return their stock', async () => {
    const shop = rk.inventory('shop', { lapseMs: 800 })
    const shop2 = other.inventory('shop', { lapseMs: 800 })
    await shop.setStock('tshirt', 100)
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? shop : shop2).reserve('tshirt', 1, `user${i}`)))
    expect(results.filter(Boolean)).toHaveLength(100)
    expect(await shop.available('tshirt')).toBe(0)
    await eventually(async () => (await shop.available('tshirt')) === 100, 10_000, 'stock back')
    await sleep(300)
    expect(await shop.available('tshirt')).toBe(100)
  })

  it('confirm keeps the units sold, cancel returns them, and settling twice or late changes nothing', async () => {
    const shop = rk.inventory('settle', { lapseMs: 400 })
    await shop.setStock('mug', 10)
    const sold = await shop.reserve('mug', 3, 'ann')
    const cancelled = await shop.reserve('mug', 2, 'bob')
    const lapsing = await shop.reserve('mug', 4, 'cyd')
    expect(await shop.available('mug')).toBe(1)
    expect(await shop.reserve('mug', 2, 'dan')).toBeUndefined()
    expect(await shop.confirm('mug', sold?.id as string)).toBe(true)
    expect(await shop.confirm('mug', sold?.id as string)).toBe(false)
    expect(await shop.cancel('mug', cancelled?.id as string)).toBe(true)
    expect(await shop.cancel('mug', cancelled?.id as string)).toBe(false)
    expect(await shop.available('mug')).toBe(3)
    await eventually(async () => (await shop.available('mug')) === 7, 10_000, 'lapsed units back')
    expect(await shop.confirm('mug', lapsing?.id as string)).toBe(false)
    await sleep(200)
    expect(await shop.available('mug')).toBe(7)
  })

  it('a reservation id reused after it lapsed (its lapse event not yet handled) still returns its first stock', async () => {
    const first = rk.inventory('reuse', { lapseMs: 300 })
    await first.setStock('seat', 10)
    expect(await first.reserve('seat', 3, 'ann', { id: 'cart-1' })).toBeDefined()
    expect(await errorCode(first.reserve('seat', 1, 'ann', { id: 'cart-1' }))).toBe('E_INVALID_ARGUMENT')
    // Nobody handles lapse events for a while: the first reservation lapses unsettled.
    await first.close()
    await sleep(600)
    // A consumer group that never saw the first lapse event: only the reserve itself can return the first 3.
    const second = other.inventory('reuse', { lapseMs: 300, group: 'reuse-late' })
    expect(await second.reserve('seat', 2, 'ann', { id: 'cart-1' })).toBeDefined()
    expect(await second.available('seat')).toBe(8)
    // The first reservation's late event, handled now, finds a newer generation: nothing changes.
    await other.inventory('reuse').start()
    await sleep(100)
    expect(await second.available('seat')).toBeLessThanOrEqual(10)
    await eventually(async () => (await second.available('seat')) === 10, 10_000, 'all back')
    await sleep(300)
    expect(await second.available('seat')).toBe(10)
  })

  it('nothing is oversold or lost when a buying process is killed (SIGKILL)', async () => {
    const shop = rk.inventory('crash', { lapseMs: 1000 })
    await shop.setStock('lamp', 100)
    await shop.start()
    const child = await startChild(BUYER, { ...env(), REDKIT_PREFIX: prefix, NAME: 'crash', PRODUCT: 'lamp', LAPSE_MS: '1000' })
    await sleep(100)
    await stopChild(child)
    const left = await shop.available('lamp')
    expect(left).toBeGreaterThanOrEqual(0)
    expect(left).toBeLessThan(100)
    await eventually(async () => (await shop.available('lamp')) === 100, 15_000, 'every unit back')
  })

  it('rejects bad input with typed errors', async () => {
    const shop = rk.inventory('bad')
    expect(thrownCode(() => rk.inventory(''))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => rk.inventory('x', { lapseMs: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(shop.reserve('p', 0, 'u'))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(shop.reserve('p', 1.5, 'u'))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(shop.reserve('a{b', 1, 'u'))).toBe('E_INVALID_KEY')
    expect(await errorCode(shop.reserve('p', 1, 42 as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(shop.setStock('p', -1))).toBe('E_INVALID_ARGUMENT')
    await shop.setStock('p', 2)
    expect(await errorCode(shop.addStock('p', -3))).toBe('E_INVALID_ARGUMENT')
    expect(await shop.available('p')).toBe(2)
    // A refused removal on a product with no stock yet writes nothing (review finding 9).
    const key = `${rk.keys.prefix}:{inv:bad:absent}:stock`
    expect(await errorCode(shop.addStock('absent', -1))).toBe('E_INVALID_ARGUMENT')
    expect(await rk.connection.send(['EXISTS', key], { key })).toBe(0)
    expect(await shop.addStock('absent', 3)).toBe(3)
    expect(await rk.connection.send(['EXISTS', key], { key })).toBe(1)
    expect(await shop.addStock('absent', -3)).toBe(0)
  })
})
