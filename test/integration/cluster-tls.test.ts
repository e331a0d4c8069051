import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort, type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { clusterArgs, runRedisCli } from '../support/cluster.js'
import { errorCode } from '../support/expect.js'
import { type Certificates, clientTls, exerciseModules, makeCertificates, serverTlsArgs } from '../support/tls.js'
import { eventually } from '../support/wait.js'

// A three-master cluster that speaks TLS to clients and on its bus (tls-cluster yes), client
// certificates required: redkit connects with `cluster: { rootNodes: ['rediss://...'], tls }`, learns
// the TLS ports from CLUSTER SLOTS, and every module works across the nodes.
describe('Cluster over TLS', () => {
  let nodes: RedisProcess[] = []
  let tlsPorts: number[] = []
  let files: Certificates
  let rk: Redkit

  beforeAll(async () => {
    files = makeCertificates(mkdtempSync(path.join(tmpdir(), 'redkit-cluster-tls-')))
    tlsPorts = await Promise.all([0, 1, 2].map(() => findFreePort()))
    const tlsArgs = serverTlsArgs(files)
    nodes = await Promise.all(
      tlsPorts.map((tlsPort) =>
        startRedisServer({ args: [...clusterArgs(), '--tls-port', String(tlsPort), '--tls-cluster', 'yes', ...tlsArgs] }),
      ),
    )
    const cli = ['--tls', '--cacert', files.ca, '--cert', files.clientCert, '--key', files.clientKey]
    await runRedisCli([...cli, '--cluster', 'create', ...tlsPorts.map((port) => `127.0.0.1:${port}`), '--cluster-yes'])
    await eventually(
      async () => {
        const infos = await Promise.all(
          tlsPorts.map((port) => runRedisCli([...cli, '-p', String(port), 'CLUSTER', 'INFO']).catch(() => '')),
        )
        return infos.every((info) => info.includes('cluster_state:ok'))
      },
      20_000,
      'TLS cluster serving every slot',
    )
    rk = await createRedkit({
      cluster: {
        rootNodes: tlsPorts.map((port) => `rediss://127.0.0.1:${port}`),
        tls: clientTls(files),
      },
      prefix: 'ctls',
    })
  }, 60_000)

  afterAll(async () => {
    await rk?.close()
    await Promise.all(nodes.map((node) => node.stop()))
  })

  it('routes to every master over TLS: cache, queue, lock, expirations, stats and sessions across slots', async () => {
    expect(rk.topology).toBe('cluster')
    // The masters it talks to are the TLS ports (the plain ones are only for the test's readiness check).
    expect(new Set(rk.connection.masters().map((m) => m.address))).toEqual(new Set(tlsPorts.map((port) => `127.0.0.1:${port}`)))
    await exerciseModules(rk, 'ctls')
  })

  it('refuses a client without a certificate with E_CONNECTION in bounded time', async () => {
    const started = Date.now()
    const code = await errorCode(
      createRedkit({
        cluster: { rootNodes: tlsPorts.map((port) => `rediss://127.0.0.1:${port}`), tls: { ca: readFileSync(files.ca) } },
        connectTimeoutMs: 1500,
      }),
    )
    expect(code).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(6000)
  })

  it('connects while one root node is frozen: its TLS handshake never ends, and discovery moves on', async () => {
    const frozen = nodes[0] as RedisProcess
    frozen.signal('SIGSTOP')
    try {
      for (let attempt = 0; attempt < 8; attempt++) {
        const started = Date.now()
        const other = await createRedkit({
          cluster: {
            rootNodes: tlsPorts.map((port) => `rediss://127.0.0.1:${port}`),
            tls: { ca: readFileSync(files.ca), cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) },
          },
          prefix: 'ctls-frozen',
          connectTimeoutMs: 1000,
        })
        other.on('error', () => {})
        expect(Date.now() - started).toBeLessThan(1500)
        await other.close()
      }
    } finally {
      frozen.signal('SIGCONT')
    }
  }, 60_000)
})
