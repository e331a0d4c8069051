import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { serverBloomIn } from '../../src/stats/bloom-backend.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

describe('bloom backend detection', () => {
  it('reads COMMAND INFO: an unknown command is a null entry', () => {
    expect(serverBloomIn([null])).toBe(false)
    expect(serverBloomIn([])).toBe(false)
    expect(serverBloomIn([['bf.add', -3, ['write'], 1, 1, 1]])).toBe(true)
  })
})

describe.each(TOPOLOGIES)('bloom filter on %s', (_name, options) => {
  let rk: Redkit
  let prefix: string
  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('measured false-positive rate within 1.5x of the configured one, no false negatives', { timeout: 60_000 }, async () => {
    for (const rate of [0.01, 0.001]) {
      const bloom = rk.bloom(`fp-${rate}`, { expectedItems: 20_000, falsePositiveRate: rate })
      expect(await bloom.backend()).toBe('lua') // this test server has no BF.* commands
      const items = Array.from({ length: 20_000 }, (_, i) => `user:${i}`)
      await bloom.addMany(items)
      expect((await bloom.mightContainMany(items)).every(Boolean)).toBe(true)
      const probes = 100_000
      const found = await bloom.mightContainMany(Array.from({ length: probes }, (_, i) => `stranger:${i}`))
      const measured = found.filter(Boolean).length / probes
      expect(measured).toBeLessThanOrEqual(rate * 1.5)
      expect(measured).toBeGreaterThan(rate / 4) // the filter is not oversized by accident
    }
  })

  it('a planted size never hangs or bloats the server: hashes=0, bits=2^32, garbage are E_DECODE', async () => {
    for (const [bits, hashes] of [
      ['1000', '0'],
      [String(2 ** 32), '7'],
      ['1000', '50000'],
      ['-5', '3'],
      ['abc', '3'],
      ['1000', '1.5'],
    ]) {
      const name = `planted-${bits}-${hashes}`.replace(/[^a-z0-9-]/gi, '_')
      const params = `${prefix}:{${name}}:bloom-params`
      await rk.connection.send(['HSET', params, 'bits', bits as string, 'hashes', hashes as string], { key: params })
      const bloom = rk.bloom(name, { expectedItems: 1000, falsePositiveRate: 0.01 })
      expect(await errorCode(bloom.add('x'))).toBe('E_DECODE')
      expect(await errorCode(bloom.mightContain('x'))).toBe('E_DECODE')
      const bitmap = `${prefix}:{${name}}:bloom`
      expect(await rk.connection.send(['EXISTS', bitmap], { key: bitmap })).toBe(0)
    }
  })

  it('a size planted after first use is caught before any bit is touched', async () => {
    const bloom = rk.bloom('swapped', { expectedItems: 1000, falsePositiveRate: 0.01 })
    await bloom.add('a')
    const params = `${prefix}:{swapped}:bloom-params`
    await rk.connection.send(['HSET', params, 'hashes', '0'], { key: params })
    expect(await errorCode(bloom.add('b'))).toBe('E_DECODE')
    expect(await errorCode(bloom.mightContain('a'))).toBe('E_DECODE')
  })

  it('a filter recreated with another size by another process is adopted', async () => {
    const a = rk.bloom('recreated', { expectedItems: 1000, falsePositiveRate: 0.01 })
    await a.add('x')
    await a.destroy()
    const b = rk.bloom('recreated', { expectedItems: 50_000, falsePositiveRate: 0.001 })
    await b.add('y')
    // a still caches the old size: its next call sees the change and adopts b's size.
    expect(await a.mightContain('y')).toBe(true)
    expect(await a.size()).toEqual(await b.size())
  })

  it('bad options and items are RedkitErrors', async () => {
    for (const bad of [
      { expectedItems: 0, falsePositiveRate: 0.01 },
      { expectedItems: 10, falsePositiveRate: 1 },
      { expectedItems: 10, falsePositiveRate: 0.01, backend: 'disk' },
      { expectedItems: 1e6, falsePositiveRate: 0.01, maxBits: 1000 },
    ])
      expect(await errorCode(() => rk.bloom('x', bad as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(() => rk.bloom('', { expectedItems: 10, falsePositiveRate: 0.1 }))).toBe('E_INVALID_KEY')
    const bloom = rk.bloom('items', { expectedItems: 10, falsePositiveRate: 0.1 })
    expect(await errorCode(bloom.addMany([1 as unknown as string]))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(bloom.addMany('ab' as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.bloom('srv', { expectedItems: 10, falsePositiveRate: 0.1, backend: 'server' }).add('x'))).toBe(
      'E_SERVER_CONFIG',
    )
  })
})
