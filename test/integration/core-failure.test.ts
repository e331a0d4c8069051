import { spawn } from 'node:child_process'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort, type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError, type ReconnectingEvent, type RedkitError } from '../../src/index.js'
import { type ChaosProxy, startChaosProxy } from '../support/chaos-proxy.js'
import { closeAll, rawClient, standaloneUrl, testPrefix } from '../support/redis.js'

async function failure(promise: Promise<unknown>): Promise<RedkitError> {
  try {
    await promise
  } catch (error) {
    if (isRedkitError(error)) return error
    throw new Error(`expected a RedkitError, got ${inspect(error)}`)
  }
  throw new Error('expected a failure')
}

function everything(error: unknown): string {
  return `${String(error)} ${(error as Error).stack} ${inspect(error, { depth: 20, showHidden: true })} ${JSON.stringify(error)}`
}

describe('credentials', () => {
  const PASSWORD = 'Sup3r-S3cret-Pa55'
  let server: RedisProcess

  beforeAll(async () => {
    server = await startRedisServer({ args: ['--requirepass', PASSWORD] })
  })
  afterAll(() => server?.stop())

  it('a wrong password fails fast with E_AUTH and no secret anywhere', async () => {
    const wrong = 'Wr0ng-Pa55word-42'
    const started = Date.now()
    const error = await failure(createRedkit({ url: `redis://default:${wrong}@127.0.0.1:${server.port}` }))
    expect(error.code).toBe('E_AUTH')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(everything(error)).not.toContain(wrong)
    expect(everything(error)).not.toContain(PASSWORD)
  })

  it('a missing password fails with E_AUTH', async () => {
    const error = await failure(createRedkit({ url: `redis://127.0.0.1:${server.port}`, connectTimeoutMs: 1500 }))
    expect(error.code).toBe('E_AUTH')
  })

  it('an ACL user with the right password connects; events never carry the password', async () => {
    const admin = await rawClient(`redis://default:${PASSWORD}@127.0.0.1:${server.port}`)
    await admin.sendCommand(['ACL', 'SETUSER', 'app', 'on', '>app-pa55-word', '~*', '+@all'])
    const rk = await createRedkit({ url: `redis://app:app-pa55-word@127.0.0.1:${server.port}`, prefix: testPrefix() })
    expect(await rk.ping()).toBeGreaterThan(0)
    const seen: string[] = []
    rk.on('error', (e) => seen.push(everything(e)))
    rk.on('reconnecting', (e) => seen.push(everything(e)))
    await admin.sendCommand(['CLIENT', 'KILL', 'USER', 'app'])
    await new Promise((r) => setTimeout(r, 300))
    expect(await rk.ping()).toBeGreaterThan(0)
    expect(seen.join(' ')).not.toContain('app-pa55-word')
    await rk.close()
    await closeAll(admin)
  })
})

describe('unreachable server', () => {
  it('fails with E_CONNECTION within the connect timeout, no hang', async () => {
    const port = await findFreePort()
    const started = Date.now()
    const error = await failure(createRedkit({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 1000 }))
    expect(error.code).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(2500)
  })

  it('a server that accepts but never answers fails with E_CONNECTION within the connect timeout', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    proxy.pause()
    const started = Date.now()
    const error = await failure(createRedkit({ url: proxy.url, connectTimeoutMs: 1000 }))
    expect(error.code).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(2500)
    await proxy.close()
  })
})

describe('connection loss', () => {
  let proxy: ChaosProxy

  beforeAll(async () => {
    const target = new URL(standaloneUrl())
    proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
  })
  afterAll(() => proxy?.close())

  it('reconnects with backoff after a cut and surfaces it as events', async () => {
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix() })
    const events: ReconnectingEvent[] = []
    rk.on('reconnecting', (e) => events.push(e))
    rk.on('error', () => {})
    const ready = new Promise<void>((resolve) => rk.once('ready', () => resolve()))
    proxy.cut()
    await ready
    expect(events.length).toBeGreaterThan(0)
    expect(events[0]?.delayMs).toBeGreaterThanOrEqual(0)
    expect(await rk.ping()).toBeGreaterThan(0)
    await rk.close()
  })

  it('a command issued while Redis is down fails within the bound instead of waiting forever', async () => {
    const rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), connectTimeoutMs: 800 })
    rk.on('error', () => {})
    proxy.refuse(true)
    proxy.cut()
    await new Promise((r) => setTimeout(r, 50))
    const started = Date.now()
    const error = await failure(rk.ping())
    expect(error.code).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(2000)
    proxy.refuse(false)
    // It comes back by itself once the server is reachable again.
    await new Promise<void>((resolve) => rk.once('ready', () => resolve()))
    expect(await rk.ping()).toBeGreaterThan(0)
    await rk.close()
  })
})

describe('a server that stops answering', () => {
  it('is detected by the health check: pending commands fail, and the connection comes back when it answers again', async () => {
    const target = new URL(standaloneUrl())
    const proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    const rk = await createRedkit({
      url: proxy.url,
      prefix: testPrefix(),
      healthCheckIntervalMs: 200,
      healthCheckTimeoutMs: 300,
      connectTimeoutMs: 1000,
    })
    const errors: string[] = []
    rk.on('error', (e) => errors.push(e.code))
    expect(await rk.ping()).toBeGreaterThan(0)
    proxy.pause()
    const started = Date.now()
    // Without the health check this PING would wait forever: nothing closes the socket.
    const error = await failure(rk.ping())
    expect(error.code).toBe('E_CONNECTION')
    expect(Date.now() - started).toBeLessThan(3000)
    expect(errors).toContain('E_TIMEOUT')
    proxy.resume()
    const back = Date.now()
    for (;;) {
      try {
        await rk.ping()
        break
      } catch {
        if (Date.now() - back > 5000) throw new Error('the connection did not come back')
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    await rk.close()
    await proxy.close()
  }, 20_000)
})

describe('existing client', () => {
  it('wraps a node-redis client and leaves it open on close()', async () => {
    const client = await rawClient()
    const rk = await createRedkit({ client, prefix: testPrefix() })
    expect(rk.topology).toBe('standalone')
    expect(await rk.ping()).toBeGreaterThan(0)
    const dedicated = await rk.connection.dedicated()
    await rk.close()
    expect(client.isOpen).toBe(true)
    expect(dedicated.isOpen).toBe(false)
    expect(await client.ping()).toBe('PONG')
    await closeAll(client)
  })
})

describe('process exit', () => {
  it('close() releases every connection and timer so the process exits by itself', async () => {
    const code = `
      import { createRedkit } from './src/index.ts'
      const rk = await createRedkit({ url: process.env.URL, prefix: 'exit' })
      await rk.connection.dedicated()
      await rk.connection.dedicated()
      await rk.ping()
      await rk.close()
      console.log('closed')
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, URL: standaloneUrl() },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    const exitCode = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve(-1)
      }, 15_000)
      child.on('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    expect(out).toContain('closed')
    expect(exitCode).toBe(0)
  })
})
