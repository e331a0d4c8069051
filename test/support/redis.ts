import { randomBytes } from 'node:crypto'
import { createClient, createCluster } from 'redis'
import { inject } from 'vitest'
import { createRedkit, type Redkit, type RedkitOptions } from '../../src/index.js'
import type { ClusterNodeAddress } from './global-setup.js'

/**
 * Typed access to the throwaway Redis servers started by `global-setup.ts`, plus raw node-redis
 * clients for test assertions. Never point tests at 127.0.0.1:6379, and never FLUSHALL: isolate
 * with `testPrefix()` and clean up through the library's own purge.
 */

export type { ClusterNodeAddress }

function provided<K extends 'redkit.standaloneUrl' | 'redkit.trioUrls' | 'redkit.clusterNodes' | 'redkit.sentinel'>(key: K) {
  const value = inject(key)
  if (value === undefined) {
    throw new Error(
      `Test Redis: '${key}' was not provided. Run the tests through vitest.config.ts (globalSetup: test/support/global-setup.ts).`,
    )
  }
  return value
}

/** redis://host:port of the shared standalone test server. */
export function standaloneUrl(): string {
  return provided('redkit.standaloneUrl')
}

/** redis://host:port of three independent standalone servers (for Redlock). */
export function trioUrls(): [string, string, string] {
  const urls = provided('redkit.trioUrls')
  const [a, b, c] = urls
  if (urls.length !== 3 || a === undefined || b === undefined || c === undefined) {
    throw new Error(`Test Redis: expected three trio servers, got ${urls.length}`)
  }
  return [a, b, c]
}

/** Addresses of the three masters of the test cluster. */
export function clusterNodes(): ClusterNodeAddress[] {
  return provided('redkit.clusterNodes').map(({ host, port }) => ({ host, port }))
}

/** redis:// URLs of the cluster masters, handy as `rootNodes: clusterUrls().map((url) => ({ url }))`. */
export function clusterUrls(): string[] {
  return clusterNodes().map(({ host, port }) => `redis://${host}:${port}`)
}

/** The Sentinel-monitored test master: the options for `createRedkit({ sentinel })`, and the master's own URL for raw access. */
export function sentinelSetup(): { options: { name: string; sentinels: ClusterNodeAddress[] }; masterUrl: string } {
  const { name, masterUrl, sentinels } = provided('redkit.sentinel')
  return { options: { name, sentinels: sentinels.map(({ host, port }) => ({ host, port })) }, masterUrl }
}

/** A fresh random prefix, `t` + 8 hex chars: valid for KeySpace (no ':', '{' or '}'). */
export function testPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`
}

/** A connected node-redis client (standalone). The caller closes it (`closeAll`). */
export async function rawClient(url: string = standaloneUrl()) {
  const client = createClient({ url })
  // An 'error' event without a listener would crash the worker; failures still surface on commands.
  client.on('error', () => {})
  await client.connect()
  return client
}

export type RawClient = Awaited<ReturnType<typeof rawClient>>

/** A connected node-redis cluster client on the test cluster. The caller closes it (`closeAll`). */
export async function rawCluster() {
  const cluster = createCluster({ rootNodes: clusterUrls().map((url) => ({ url })) })
  cluster.on('error', () => {})
  await cluster.connect()
  return cluster
}

export type RawCluster = Awaited<ReturnType<typeof rawCluster>>

/** Anything node-redis-like: standalone clients, cluster clients, pools. */
export interface Closable {
  readonly isOpen?: boolean
  close(): Promise<unknown>
  destroy(): unknown
  on?(event: 'connect', listener: () => void): unknown
}

/**
 * Closes every client, tolerating ones already closed, never connected or stuck (a paused proxy):
 * a graceful close gets 2 s, then the client is destroyed. Use as `afterAll(() => closeAll(a, b))`.
 */
export async function closeAll(...clients: Array<Closable | null | undefined>): Promise<void> {
  const graceMs = 2000
  await Promise.all(
    clients.map(async (client) => {
      if (!client) return
      // node-redis 6.3.1: close()/destroy() while a reconnect's TCP connect is in flight does not
      // stop it; the client then connects anyway (isOpen false, live socket). Kill that socket too.
      client.on?.('connect', () => destroyQuietly(client))
      if (client.isOpen !== false) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          Promise.resolve()
            .then(() => client.close())
            .catch(() => {}),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs)
          }),
        ])
        clearTimeout(timer)
      }
      destroyQuietly(client)
    }),
  )
}

function destroyQuietly(client: Closable): void {
  try {
    client.destroy()
  } catch {
    // already gone
  }
}

/**
 * Redkit instances for suites that start several per test and expect failures: `open` creates one
 * with its error events heard (a crash or a lost server is what the test is about), `closeOpened`
 * (in `afterEach`) closes every instance opened since, whatever state the test left it in.
 */
export function openedRedkits(): { open(options: RedkitOptions): Promise<Redkit>; closeOpened(): Promise<void> } {
  const opened: Redkit[] = []
  return {
    async open(options) {
      const rk = await createRedkit(options)
      rk.on('error', () => {})
      rk.expirations.events.on('error', () => {})
      opened.push(rk)
      return rk
    },
    async closeOpened() {
      await Promise.allSettled(opened.splice(0).map((rk) => rk.close()))
    },
  }
}
