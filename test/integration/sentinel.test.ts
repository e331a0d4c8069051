import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../src/core/redis-process.js'
import { createRedkit, defineScript, type Redkit } from '../../src/index.js'
import { testPrefix } from '../support/redis.js'

const FIXTURES = new URL('../fixtures/lua/', import.meta.url)
const move = defineScript<[string, string], [string], string | null>('test-move', FIXTURES)

describe('Sentinel', () => {
  let master: RedisProcess
  let sentinel: RedisProcess
  let rk: Redkit

  beforeAll(async () => {
    master = await startRedisServer()
    sentinel = await startRedisServer({ sentinelOf: { name: 'rkmaster', host: master.host, port: master.port } })
    rk = await createRedkit({
      sentinel: { name: 'rkmaster', sentinels: [{ host: sentinel.host, port: sentinel.port }] },
      prefix: testPrefix(),
    })
  })
  afterAll(async () => {
    await rk?.close()
    await Promise.all([sentinel?.stop(), master?.stop()])
  })

  it('connects through Sentinel to the master it monitors', async () => {
    expect(rk.topology).toBe('sentinel')
    expect(await rk.ping()).toBeGreaterThan(0)
    const key = rk.keys.key('sentinel', 'k')
    await rk.connection.send(['SET', key, 'via-sentinel'])
    // The value is on the master Sentinel pointed at.
    const direct = await createRedkit({ url: master.url, prefix: 'direct' })
    expect(await direct.connection.send(['GET', key])).toBe('via-sentinel')
    await direct.close()
  })

  it('runs scripts and the doctor through Sentinel', async () => {
    const q = rk.keys.object('sentinel-script')
    await rk.connection.send(['SET', q('a'), 'x'])
    expect(await move.run(rk.connection, [q('a'), q('b')], ['lenient'])).toBe('x')
    const report = await rk.doctor()
    expect(report.topology).toBe('sentinel')
    expect(report.nodes[0]?.version).toMatch(/^7\./)
  })

  it('opens dedicated connections through Sentinel', async () => {
    const dedicated = await rk.connection.dedicated()
    expect(dedicated.isOpen).toBe(true)
    await dedicated.close()
  })
})
