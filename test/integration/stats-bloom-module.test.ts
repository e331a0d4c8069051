import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

/**
 * The bloom suite on the server's BF.* backend. It needs a Bloom module (RedisBloom's
 * redisbloom.so, or valkey-bloom), which Debian does not package: set REDKIT_BLOOM_MODULE to its
 * path. Without one the suite is skipped (CI has none), so the BF.* backend is not a tested
 * promise there: docs/stats.md says so, and the default backend is the Lua bitmap.
 */
const MODULE = [process.env.REDKIT_BLOOM_MODULE, '/usr/lib/redis/modules/redisbloom.so', '/usr/lib/redis/modules/libvalkey_bloom.so'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
)
if (!MODULE) console.warn('stats-bloom-module: skipped, no Bloom module (set REDKIT_BLOOM_MODULE=/path/to/redisbloom.so to run it)')

describe.skipIf(!MODULE)('bloom filter on the BF.* backend (module loaded)', () => {
  let server: RedisProcess
  let rk: Redkit
  let prefix: string
  beforeAll(async () => {
    server = await startRedisServer({ args: ['--loadmodule', MODULE as string] })
    prefix = testPrefix()
    rk = await createRedkit({ url: server.url, prefix })
  }, 30_000)
  afterAll(async () => {
    await rk?.close()
    await server?.stop()
  })

  it('auto and server pick BF.*, the default the bitmap; a name that holds a BF.* filter keeps it by default', async () => {
    expect(await rk.bloom('default', { expectedItems: 100, falsePositiveRate: 0.01 }).backend()).toBe('lua')
    const before = rk.bloom('made-by-auto', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'auto' })
    await before.add('kept')
    const after = rk.bloom('made-by-auto', { expectedItems: 100, falsePositiveRate: 0.01 })
    expect(await after.backend()).toBe('server')
    expect(await after.mightContain('kept')).toBe(true)
    expect(await rk.bloom('picked', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'auto' }).backend()).toBe('server')
    expect(await rk.bloom('picked', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'server' }).backend()).toBe('server')
    const lua = rk.bloom('bitmap', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'lua' })
    await lua.add('a')
    const later = rk.bloom('bitmap', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'auto' })
    expect(await later.backend()).toBe('lua')
    expect(await later.mightContain('a')).toBe(true)
  })

  it('measured false-positive rate within 1.5x of the configured one, no false negatives', { timeout: 120_000 }, async () => {
    for (const rate of [0.01, 0.001]) {
      const bloom = rk.bloom(`fp-${rate}`, { expectedItems: 20_000, falsePositiveRate: rate, backend: 'server' })
      const items = Array.from({ length: 20_000 }, (_, i) => `user:${i}`)
      await bloom.addMany(items)
      expect((await bloom.mightContainMany(items)).every(Boolean)).toBe(true)
      const probes = 100_000
      const found = await bloom.mightContainMany(Array.from({ length: probes }, (_, i) => `stranger:${i}`))
      const measured = found.filter(Boolean).length / probes
      expect(measured).toBeLessThanOrEqual(rate * 1.5)
      expect(measured).toBeGreaterThan(rate / 8) // RedisBloom sizes tighter than asked (measured ~0.5x)
    }
  })

  it('small filters measure within 1.5x of their rate', { timeout: 60_000 }, async () => {
    let hits = 0
    let probes = 0
    for (let f = 0; f < 5; f++) {
      const bloom = rk.bloom(`small-${f}`, { expectedItems: 100, falsePositiveRate: 0.01, backend: 'server' })
      const items = Array.from({ length: 100 }, (_, i) => `small:${f}:${i}`)
      expect((await bloom.addMany(items)).filter(Boolean).length).toBeGreaterThan(95)
      expect((await bloom.mightContainMany(items)).every(Boolean)).toBe(true)
      const found = await bloom.mightContainMany(Array.from({ length: 20_000 }, (_, i) => `small-out:${f}:${i}`))
      hits += found.filter(Boolean).length
      probes += found.length
    }
    expect(hits / probes).toBeLessThanOrEqual(0.015)
  })

  it('empty, oversized and ill-formed items are refused and nothing is written; clear and destroy empty it', async () => {
    const bloom = rk.bloom('hostile-items', { expectedItems: 1000, falsePositiveRate: 1e-6, backend: 'server' })
    for (const bad of ['', '\uD800', 'a\uDC00', 'x'.repeat(65_537)]) {
      expect(await errorCode(bloom.add(bad)), JSON.stringify(bad.slice(0, 10))).toBe('E_INVALID_KEY')
      expect(await errorCode(bloom.addMany(['fine', bad]))).toBe('E_INVALID_KEY')
    }
    expect(await bloom.exists()).toBe(false)
    expect(await bloom.add('\uD83D\uDE00')).toBe(true)
    expect(await bloom.add('\uD83D\uDE00')).toBe(false)
    expect(await bloom.mightContain('\uD83D\uDE00')).toBe(true)
    expect(await bloom.mightContain('\uFFFD')).toBe(false)
    await bloom.clear()
    expect(await bloom.exists()).toBe(false)
    expect(await bloom.mightContain('\uD83D\uDE00')).toBe(false)
    await bloom.add('y')
    await bloom.destroy()
    expect(await bloom.exists()).toBe(false)
  })

  it('a planted value of another type in the filter key is a typed error, not a crash', async () => {
    const key = `${prefix}:{planted}:bf`
    await rk.connection.send(['SET', key, 'garbage'], { key })
    const code = await errorCode(rk.bloom('planted', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'server' }).add('x'))
    expect(code).toMatch(/^E_(REDIS|SCRIPT|DECODE)$/)
    expect(await rk.connection.send(['GET', key], { key })).toBe('garbage')
  })
})
