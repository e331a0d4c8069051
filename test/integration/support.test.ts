import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { pingTcp } from '../../packages/server/src/redis-process.js'
import { type ChaosProxy, startChaosProxy } from '../support/chaos-proxy.js'
import { startChild } from '../support/child.js'
import {
  type Closable,
  closeAll,
  clusterNodes,
  clusterUrls,
  type RawClient,
  rawClient,
  rawCluster,
  standaloneUrl,
  testPrefix,
  trioUrls,
} from '../support/redis.js'
import { eventually } from '../support/wait.js'

function portOf(url: string): number {
  return Number(new URL(url).port)
}

/** A raw RESP exchange: sends one inline command, resolves with the first reply line, or rejects when the connection closes first. */
function rawCommand(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let buffer = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('timeout'))
    }, timeoutMs)
    socket.on('connect', () => socket.write(`${command}\r\n`))
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1')
      const end = buffer.indexOf('\r\n')
      if (end >= 0) {
        clearTimeout(timer)
        socket.destroy()
        resolve(buffer.slice(0, end))
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      reject(new Error('closed before a reply'))
    })
  })
}

describe('test redis: standalone', () => {
  let client: RawClient
  beforeAll(async () => {
    client = await rawClient(standaloneUrl())
  })
  afterAll(() => closeAll(client))

  it('is a throwaway server, not the one on 6379', () => {
    const url = new URL(standaloneUrl())
    expect(url.hostname).toBe('127.0.0.1')
    expect(portOf(standaloneUrl())).not.toBe(6379)
  })

  it('answers PING', async () => {
    expect(await client.ping()).toBe('PONG')
    expect(await pingTcp('127.0.0.1', portOf(standaloneUrl()))).toBe(true)
  })

  it('testPrefix() is random and valid for KeySpace', () => {
    const prefixes = new Set(Array.from({ length: 100 }, () => testPrefix()))
    expect(prefixes.size).toBe(100)
    for (const prefix of prefixes) expect(prefix).toMatch(/^t[0-9a-f]{8}$/)
  })
})

describe('test redis: trio', () => {
  let clients: RawClient[] = []
  beforeAll(async () => {
    clients = await Promise.all(trioUrls().map((url) => rawClient(url)))
  })
  afterAll(() => closeAll(...clients))

  it('has three distinct servers, none of them the standalone one or 6379', async () => {
    const urls = trioUrls()
    expect(urls).toHaveLength(3)
    const ports = new Set([standaloneUrl(), ...urls].map(portOf))
    expect(ports.size).toBe(4)
    expect(ports.has(6379)).toBe(false)
    const runIds = await Promise.all(clients.map(async (client) => /run_id:(\w+)/.exec(await client.info('server'))?.[1]))
    expect(new Set(runIds).size).toBe(3)
    for (const runId of runIds) expect(runId).toMatch(/^[0-9a-f]{40}$/)
  })

  it('keeps data apart: a key written on one is absent on the others', async () => {
    const [a, b, c] = clients as [RawClient, RawClient, RawClient]
    const key = `${testPrefix()}:trio`
    await a.set(key, 'one', { PX: 10_000 })
    expect(await a.get(key)).toBe('one')
    expect(await b.exists(key)).toBe(0)
    expect(await c.exists(key)).toBe(0)
    await a.del(key)
  })
})

describe('test redis: cluster', () => {
  it('has three masters, none of them the standalone or trio servers', () => {
    const nodes = clusterNodes()
    expect(nodes).toHaveLength(3)
    const ports = new Set(nodes.map((node) => node.port))
    expect(ports.size).toBe(3)
    for (const url of [standaloneUrl(), ...trioUrls()]) expect(ports.has(portOf(url))).toBe(false)
    expect(ports.has(6379)).toBe(false)
  })

  it('covers all 16384 slots with three masters, as seen from every node', async () => {
    const clients = await Promise.all(clusterUrls().map((url) => rawClient(url)))
    try {
      for (const client of clients) {
        const info = await client.sendCommand<string>(['CLUSTER', 'INFO'])
        expect(info).toMatch(/^cluster_state:ok\r?$/m)
        expect(info).toMatch(/^cluster_slots_assigned:16384\r?$/m)
        expect(info).toMatch(/^cluster_size:3\r?$/m)
        const lines = (await client.sendCommand<string>(['CLUSTER', 'NODES'])).trim().split('\n')
        const masters = lines.filter((line) => line.split(' ')[2]?.split(',').includes('master'))
        expect(masters).toHaveLength(3)
        let slots = 0
        for (const master of masters) {
          for (const range of master.trim().split(' ').slice(8)) {
            const [from, to = from] = range.split('-').map(Number)
            slots += (to as number) - (from as number) + 1
          }
        }
        expect(slots).toBe(16384)
      }
    } finally {
      await closeAll(...clients)
    }
  })

  it('routes keys: a cluster client reads back what it wrote, and keys land on more than one master', async () => {
    const cluster = await rawCluster()
    const nodeClients = await Promise.all(clusterUrls().map((url) => rawClient(url)))
    try {
      const prefix = testPrefix()
      const keys = Array.from({ length: 12 }, (_, i) => `${prefix}:k${i}`)
      for (const key of keys) await cluster.set(key, `v-${key}`, { PX: 30_000 })
      for (const key of keys) expect(await cluster.get(key)).toBe(`v-${key}`)

      // Each key lives on exactly one master (the others answer MOVED), and the keys are spread over several masters.
      const owners = new Set<number>()
      for (const key of keys) {
        const holders: number[] = []
        let moved = 0
        for (const [index, node] of nodeClients.entries()) {
          try {
            if ((await node.get(key)) === `v-${key}`) holders.push(index)
          } catch (error) {
            expect(String(error)).toMatch(/MOVED/)
            moved++
          }
        }
        expect(holders).toHaveLength(1)
        expect(moved).toBe(2)
        owners.add(holders[0] as number)
      }
      expect(owners.size).toBeGreaterThan(1)
      await Promise.all(keys.map((key) => cluster.del(key)))
    } finally {
      await closeAll(cluster, ...nodeClients)
    }
  })
})

describe('chaos proxy', () => {
  let proxy: ChaosProxy
  const clients: Closable[] = []

  beforeAll(async () => {
    proxy = await startChaosProxy({ host: '127.0.0.1', port: portOf(standaloneUrl()) })
  })
  afterEach(async () => {
    proxy.resume()
    proxy.refuse(false)
    proxy.setLatency(0)
    await closeAll(...clients.splice(0))
    // Every test starts with no connection through the proxy.
    await expect.poll(() => proxy.connections()).toBe(0)
  })
  afterAll(() => proxy.close())

  async function viaProxy(options: { reconnect?: boolean } = {}) {
    const client = createClient({
      url: proxy.url,
      socket: { reconnectStrategy: options.reconnect === false ? false : () => 20, connectTimeout: 1000 },
    })
    const errors: Error[] = []
    client.on('error', (error: Error) => errors.push(error))
    clients.push(client)
    await client.connect()
    return { client, errors }
  }

  it('listens on its own port and forwards to the target', async () => {
    expect(proxy.port).not.toBe(portOf(standaloneUrl()))
    expect(proxy.url).toBe(`redis://127.0.0.1:${proxy.port}`)
    const { client } = await viaProxy()
    expect(await client.ping()).toBe('PONG')
    const key = `${testPrefix()}:proxy`
    await client.set(key, 'through', { PX: 10_000 })
    const direct = await rawClient(standaloneUrl())
    clients.push(direct)
    expect(await direct.get(key)).toBe('through')
    expect(proxy.connections()).toBe(1)
  })

  it('cut() drops every connection; the client sees an error and reconnects', async () => {
    const { client, errors } = await viaProxy()
    expect(await client.ping()).toBe('PONG')
    const reconnecting = new Promise<void>((resolve) => client.once('reconnecting', () => resolve()))
    const ready = new Promise<void>((resolve) => client.once('ready', () => resolve()))
    proxy.cut()
    expect(proxy.connections()).toBe(0)
    await reconnecting
    expect(errors.length).toBeGreaterThan(0)
    await ready
    expect(await client.ping()).toBe('PONG')
    expect(proxy.connections()).toBe(1)
  })

  it('cut() fails an in-flight command', async () => {
    const { client } = await viaProxy()
    proxy.pause()
    const pending = client.ping()
    proxy.cut()
    await expect(pending).rejects.toThrow()
  })

  it('pause() stalls a PING until resume()', async () => {
    const { client } = await viaProxy()
    proxy.pause()
    let settled = false
    const pending = client.ping().finally(() => {
      settled = true
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)
    expect(proxy.connections()).toBe(1)
    proxy.resume()
    expect(await pending).toBe('PONG')
  })

  it('setLatency(50) adds at least 50 ms each way', async () => {
    const { client } = await viaProxy()
    await client.ping()
    let start = performance.now()
    await client.ping()
    const baseline = performance.now() - start
    expect(baseline).toBeLessThan(50)

    proxy.setLatency(50)
    start = performance.now()
    expect(await client.ping()).toBe('PONG')
    const delayed = performance.now() - start
    // 50 ms on the request plus 50 ms on the reply (1 ms slack for timer rounding).
    expect(delayed).toBeGreaterThanOrEqual(99)

    // Order survives latency: pipelined replies still match their commands.
    const key = `${testPrefix()}:order`
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => client.incr(key).then((value) => [i, value])))
    for (const [i, value] of replies) expect(value).toBe((i as number) + 1)
    await client.del(key)
  })

  it('refuse(true) makes a fresh connection fail, and refuse(false) lets them in again', async () => {
    const { client: existing } = await viaProxy()
    proxy.refuse(true)
    expect(await pingTcp('127.0.0.1', proxy.port, 300)).toBe(false)
    await expect(rawCommand(proxy.port, 'PING')).rejects.toThrow(/closed/)
    const refused = createClient({ url: proxy.url, socket: { reconnectStrategy: false, connectTimeout: 1000 } })
    refused.on('error', () => {})
    clients.push(refused)
    await expect(refused.connect().then(() => refused.ping())).rejects.toThrow()
    // Connections opened before refuse(true) keep working.
    expect(await existing.ping()).toBe('PONG')

    proxy.refuse(false)
    expect(await rawCommand(proxy.port, 'PING')).toBe('+PONG')
  })

  it('close() stops listening and drops open connections', async () => {
    const other = await startChaosProxy({ host: '127.0.0.1', port: portOf(standaloneUrl()) })
    expect(await rawCommand(other.port, 'PING')).toBe('+PONG')
    const socket = net.connect({ host: '127.0.0.1', port: other.port })
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('connect', resolve))
    await expect.poll(() => other.connections()).toBe(1)
    const socketClosed = new Promise((resolve) => socket.once('close', resolve))
    await other.close()
    expect(other.connections()).toBe(0)
    await socketClosed
    await expect(rawCommand(other.port, 'PING')).rejects.toThrow()
  })
})

describe('child processes', () => {
  const NEVER_READY = fileURLToPath(new URL('../fixtures/never-ready.ts', import.meta.url))

  function alive(pid: number): boolean {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }

  it('a child that misses its ready timeout is killed, not left running', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'redkit-child-'))
    const pidFile = path.join(dir, 'pid')
    try {
      await expect(startChild(NEVER_READY, { PID_FILE: pidFile }, 2000)).rejects.toThrow(/not ready within 2000 ms/)
      // A child still starting when it was killed never writes its pid; one that wrote it must be gone.
      await eventually(() => existsSync(pidFile), 10_000).catch(() => {})
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'))
        await eventually(() => !alive(pid), 2000, `child ${pid} gone`).finally(() => alive(pid) && process.kill(pid, 'SIGKILL'))
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
