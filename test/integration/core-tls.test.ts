import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort, type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { type Certificates, clientTls, exerciseModules, makeCertificates, serverTlsArgs } from '../support/tls.js'

// rediss:// against a redis-server that speaks only TLS on its TLS port and requires client
// certificates (tls-auth-clients yes, Redis's default).
describe('TLS', () => {
  let server: RedisProcess
  let url: string
  let files: Certificates

  beforeAll(async () => {
    files = makeCertificates(mkdtempSync(path.join(tmpdir(), 'redkit-tls-')))
    const tlsPort = await findFreePort()
    server = await startRedisServer({
      args: ['--tls-port', String(tlsPort), ...serverTlsArgs(files)],
    })
    url = `rediss://127.0.0.1:${tlsPort}`
  }, 60_000)
  afterAll(() => server?.stop())

  it('connects with a CA and a client certificate, and every module works over it', async () => {
    const prefix = testPrefix()
    const rk = await createRedkit({ url, tls: clientTls(files), prefix })
    try {
      expect(await rk.ping()).toBeGreaterThanOrEqual(0)
      await exerciseModules(rk, prefix)
    } finally {
      await rk.close()
    }
  })

  it('refuses a server whose certificate the CA does not sign, and a client without a certificate, with E_CONNECTION in bounded time', async () => {
    const started = Date.now()
    // Node's default CAs do not sign the test server's certificate.
    expect(await errorCode(createRedkit({ url, connectTimeoutMs: 1000 }))).toBe('E_CONNECTION')
    expect(await errorCode(createRedkit({ url, tls: { ca: readFileSync(files.ca) }, connectTimeoutMs: 1000 }))).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})
