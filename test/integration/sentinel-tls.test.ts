import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort, type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { type Certificates, clientTls, exerciseModules, makeCertificates, serverTlsArgs } from '../support/tls.js'

// Sentinel over TLS: the Sentinel process and the primary it names both take TLS with client
// certificates, and the Sentinel monitors the primary's TLS port (tls-replication yes), so the
// address it hands out is one only TLS reaches.
describe('Sentinel over TLS', () => {
  let primary: RedisProcess
  let sentinel: RedisProcess
  let sentinelTlsPort: number
  let files: Certificates

  beforeAll(async () => {
    files = makeCertificates(mkdtempSync(path.join(tmpdir(), 'redkit-sentinel-tls-')))
    const tlsArgs = (port: number) => ['--tls-port', String(port), ...serverTlsArgs(files), '--tls-replication', 'yes']
    const primaryTlsPort = await findFreePort()
    primary = await startRedisServer({ args: tlsArgs(primaryTlsPort) })
    sentinelTlsPort = await findFreePort()
    sentinel = await startRedisServer({
      sentinelOf: { name: 'rktls', host: '127.0.0.1', port: primaryTlsPort, downAfterMs: 60_000 },
      args: tlsArgs(sentinelTlsPort),
    })
  }, 60_000)
  afterAll(() => Promise.all([sentinel?.stop(), primary?.stop()]))

  it('connects through a TLS Sentinel to a TLS primary, and every module works over it', async () => {
    const prefix = testPrefix()
    const rk = await createRedkit({
      sentinel: { name: 'rktls', sentinels: [{ host: '127.0.0.1', port: sentinelTlsPort }], tls: clientTls(files) },
      prefix,
    })
    try {
      const info = await rk.connection.send<string>(['INFO', 'server'])
      expect(info).toMatch(/redis_version/)
      await exerciseModules(rk, prefix)
    } finally {
      await rk.close()
    }
  })

  it('refuses a TLS Sentinel to a client without a certificate, with E_CONNECTION in bounded time', async () => {
    const started = Date.now()
    const code = await errorCode(
      createRedkit({
        sentinel: { name: 'rktls', sentinels: [{ host: '127.0.0.1', port: sentinelTlsPort }], tls: { ca: readFileSync(files.ca) } },
        prefix: testPrefix(),
        connectTimeoutMs: 1500,
      }),
    )
    expect(code).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
