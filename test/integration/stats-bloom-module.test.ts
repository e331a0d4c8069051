import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { bloomContract } from '../support/bloom-suite.js'
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

  bloomContract(() => rk, 'server', { fpFloor: 8 })

  it('a planted value of another type in the filter key is a typed error, not a crash', async () => {
    const key = `${prefix}:{planted}:bf`
    await rk.connection.send(['SET', key, 'garbage'], { key })
    const code = await errorCode(rk.bloom('planted', { expectedItems: 100, falsePositiveRate: 0.01, backend: 'server' }).add('x'))
    expect(code).toMatch(/^E_(REDIS|SCRIPT|DECODE)$/)
    expect(await rk.connection.send(['GET', key], { key })).toBe('garbage')
  })
})
