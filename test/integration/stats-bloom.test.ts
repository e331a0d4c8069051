import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { serverBloomIn } from '../../src/stats/bloom-backend.js'
import { bloomPositions } from '../../src/stats/bloom-math.js'
import { bloomContract } from '../support/bloom-suite.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { rawClient, testPrefix } from '../support/redis.js'

describe('bloom backend detection', () => {
  it('reads COMMAND INFO: an unknown command is a null entry', () => {
    expect(serverBloomIn([null])).toBe(false)
    expect(serverBloomIn([])).toBe(false)
    expect(serverBloomIn([['bf.add', -3, ['write'], 1, 1, 1]])).toBe(true)
  })

  // Review finding 15: a least-privilege user (no COMMAND INFO) got E_PERMISSION on every call of the 'auto' backend (then the default).
  it('a user whose ACL refuses COMMAND INFO gets the Lua backend, not E_PERMISSION', { timeout: 40_000 }, async () => {
    const server = await startRedisServer()
    let rk: Redkit | undefined
    try {
      const admin = await rawClient(server.url)
      await admin.sendCommand([
        'ACL',
        'SETUSER',
        'rkuser',
        'on',
        '>pw',
        '~*',
        '&*',
        '-@all',
        '+@read',
        '+@write',
        '+@scripting',
        '+ping',
        '+time',
        '+hello',
        '+client',
        '+info',
        '+select',
        '+auth',
      ])
      await admin.quit()
      rk = await createRedkit({ url: `redis://rkuser:pw@${server.host}:${server.port}`, prefix: testPrefix() })
      expect(await errorCode(rk.connection.send(['COMMAND', 'INFO', 'BF.ADD']))).toBe('E_PERMISSION')
      const bloom = rk.bloom('acl', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'auto' })
      expect(await bloom.add('a')).toBe(true)
      expect(await bloom.mightContain('a')).toBe(true)
      expect(await bloom.mightContain('b')).toBe(false)
      expect(await bloom.backend()).toBe('lua')
    } finally {
      await rk?.close()
      await server.stop()
    }
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

  bloomContract(() => rk, 'lua', { fpFloor: 4 })

  it('a filter recorded before position scheme 2 keeps its positions (scheme 1), so nothing added is lost', async () => {
    const name = 'scheme-one'
    const params = `${prefix}:{${name}}:bloom-params`
    const bitmap = `${prefix}:{${name}}:bloom`
    await rk.connection.send(['HSET', params, 'bits', '1000', 'hashes', '7'], { key: params })
    const bloom = rk.bloom(name, { expectedItems: 100, falsePositiveRate: 0.01 })
    await bloom.add('old-item')
    const positions: number[] = []
    bloomPositions('old-item', { bits: 1000, hashes: 7, scheme: 1 }, positions)
    for (const p of positions) expect(await rk.connection.send(['GETBIT', bitmap, String(p)], { key: bitmap })).toBe(1)
    expect(await rk.connection.send(['BITCOUNT', bitmap], { key: bitmap })).toBe(new Set(positions).size)
    expect(await rk.connection.send(['HGET', params, 'scheme'], { key: params })).toBe(null)
    // A new filter records scheme 2; a planted unknown scheme is refused.
    const fresh = rk.bloom('scheme-two', { expectedItems: 100, falsePositiveRate: 0.01 })
    await fresh.add('x')
    const freshParams = `${prefix}:{scheme-two}:bloom-params`
    expect(await rk.connection.send(['HGET', freshParams, 'scheme'], { key: freshParams })).toBe('2')
    const planted = `${prefix}:{scheme-bad}:bloom-params`
    await rk.connection.send(['HSET', planted, 'bits', '1000', 'hashes', '7', 'scheme', '9'], { key: planted })
    expect(await errorCode(rk.bloom('scheme-bad', { expectedItems: 100, falsePositiveRate: 0.01 }).add('x'))).toBe('E_DECODE')
  })

  it('a planted size never hangs or bloats the server: hashes=0, bits=2^32, garbage are E_DECODE', async () => {
    for (const [bits, hashes] of [
      ['1000', '0'],
      [String(2 ** 32), '7'],
      ['1000', '50000'],
      ['-5', '3'],
      ['abc', '3'],
      ['1000', '1.5'],
      ['5', '7'],
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
