import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { expect } from 'vitest'
import type { Redkit } from '../../src/index.js'
import { eventually } from './wait.js'

export type Certificates = Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeCertificates(dir: string): Certificates {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=redkit-test-ca')
  writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n')
  for (const who of ['server', 'client']) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=redkit-${who}`)
    run(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${who}.crt`,
      '-days',
      '1',
      '-extfile',
      'ext',
    )
  }
  const file = (name: string) => path.join(dir, name)
  return {
    ca: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
  }
}

/** redis-server arguments for a TLS port with these certificates (client certificates required, Redis's default). */
export function serverTlsArgs(files: Certificates): string[] {
  return ['--tls-cert-file', files.serverCert, '--tls-key-file', files.serverKey, '--tls-ca-cert-file', files.ca]
}

/** The client side: the CA and the client certificate. */
export function clientTls(files: Certificates): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: readFileSync(files.ca), cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) }
}

/**
 * Every module over one redkit instance, for the TLS suites (standalone, Sentinel, Cluster): cache
 * reads and writes (over every slot's node on Cluster), jobs through a worker, a lock, an expiry
 * event, a leaderboard and a session. `prefix` is the instance's own.
 */
export async function exerciseModules(rk: Redkit, prefix: string): Promise<void> {
  const cache = rk.cache<number>('tls-cache')
  expect(await cache.getOrLoad('k', async () => 42)).toBe(42)
  for (let i = 0; i < 30; i++) await cache.set(`k${i}`, i)
  for (let i = 0; i < 30; i++) expect(await cache.get(`k${i}`)).toBe(i)

  const done: number[] = []
  const worker = rk.worker<{ n: number }>('tls-jobs', async (job) => void done.push(job.data.n))
  for (let n = 0; n < 10; n++) await rk.queue<{ n: number }>('tls-jobs').add({ n })

  const seen: string[] = []
  const sub = await rk.expirations.on(`${prefix}:tls:*`, (e) => void seen.push(e.key))
  await rk.expirations.set(`${prefix}:tls:1`, 1, { ttlMs: 100 })
  await eventually(() => seen.includes(`${prefix}:tls:1`) && done.length === 10, 10_000, 'expiry and jobs over TLS')
  await Promise.all([sub.close(), worker.close()])

  await rk.lock('tls-lock').using(async () => {})

  const board = rk.leaderboard('tls-board')
  await board.incr('a', 3)
  expect((await board.top(1))[0]).toMatchObject({ member: 'a', score: 3 })

  const sessions = rk.sessions<{ user: string }>({ name: 'tls-web' })
  const session = await sessions.create('u1', { user: 'u1' })
  expect((await sessions.get(session.id))?.data).toEqual({ user: 'u1' })
}
