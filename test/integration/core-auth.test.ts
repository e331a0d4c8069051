import { afterEach, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit, type RedkitError } from '../../src/index.js'
import { errorCode } from '../support/expect.js'
import { rawClient } from '../support/redis.js'
import { eventually } from '../support/wait.js'

// Issue 13 item 5: a reconnect that meets WRONGPASS (password rotation, ACL change) used to end
// the instance for good ("The client is closed", even after the password was restored).
describe('credentials that change after the first connection', () => {
  let server: RedisProcess | undefined
  let rk: Redkit | undefined

  afterEach(async () => {
    await rk?.close().catch(() => {})
    await server?.stop()
    rk = undefined
    server = undefined
  })

  async function rotate(from: string, to: string): Promise<void> {
    if (!server) throw new Error('no server')
    const admin = await rawClient(`redis://:${from}@${server.host}:${server.port}`)
    await admin.configSet('requirepass', to)
    // Drop every other connection, so redkit must reconnect and authenticate again.
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'])
    await admin.quit()
  }

  it('keeps retrying after WRONGPASS, reports E_AUTH once, and recovers when the password is restored', async () => {
    server = await startRedisServer({ args: ['--requirepass', 'first-secret-1'] })
    rk = await createRedkit({ url: `redis://:first-secret-1@${server.host}:${server.port}`, maxReconnectDelayMs: 100 })
    const errors: RedkitError[] = []
    rk.on('error', (error) => errors.push(error))
    await rk.counter('c').incr()
    await rotate('first-secret-1', 'second-secret-2')
    await eventually(() => errors.some((e) => e.code === 'E_AUTH'), 10_000, 'E_AUTH reported')
    // Several retries happen meanwhile; the outage is reported once.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(errors.filter((e) => e.code === 'E_AUTH')).toHaveLength(1)
    for (const error of errors) expect(error.message).not.toContain('second-secret-2')
    await rotate('second-secret-2', 'first-secret-1')
    await eventually(
      async () => (await errorCode(rk?.counter('c').incr() ?? Promise.reject())) === undefined,
      15_000,
      'commands work again',
    )
  }, 40_000)

  it('asks the credentials function again on each reconnect, so a rotated password is picked up', async () => {
    server = await startRedisServer({ args: ['--requirepass', 'rot-a-1111'] })
    let current = 'rot-a-1111'
    let asked = 0
    rk = await createRedkit({
      url: `redis://${server.host}:${server.port}`,
      maxReconnectDelayMs: 100,
      credentials: async () => {
        asked++
        return { password: current }
      },
    })
    rk.on('error', () => {})
    expect(await rk.counter('c').incr()).toBe(1)
    const before = asked
    await rotate('rot-a-1111', 'rot-b-2222')
    current = 'rot-b-2222'
    await eventually(
      async () => (await errorCode(rk?.counter('c').incr() ?? Promise.reject())) === undefined,
      15_000,
      'commands work with the new password',
    )
    expect(asked).toBeGreaterThan(before)
  }, 40_000)

  it('fails fast with E_AUTH on the first connection, and with E_INVALID_ARGUMENT for a bad url or database', async () => {
    server = await startRedisServer({ args: ['--requirepass', 'right-pass-1'] })
    const started = Date.now()
    expect(await errorCode(createRedkit({ url: `redis://:wrong-pass@${server.host}:${server.port}` }))).toBe('E_AUTH')
    expect(await errorCode(createRedkit({ url: `redis://:right-pass-1@${server.host}:${server.port}/99` }))).toBe('E_INVALID_ARGUMENT')
    expect(Date.now() - started).toBeLessThan(4000)
    expect(await errorCode(createRedkit({ url: 'redis://' }))).toBe('E_INVALID_ARGUMENT')
    // A malformed %-escape in the credentials: typed, not node-redis's raw URIError (review finding 7).
    expect(await errorCode(createRedkit({ url: `redis://:%E0%A4%A@${server.host}:${server.port}` }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(createRedkit({ url: `redis://u%ZZ:pw@${server.host}:${server.port}` }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(createRedkit({ url: 'redis:///0' }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(createRedkit({ url: `redis://${server.host}:${server.port}/abc` }))).toBe('E_INVALID_ARGUMENT')
    for (const bad of [Number.NaN, -1, 1.5, '100', Number.POSITIVE_INFINITY, 2 ** 31]) {
      for (const option of ['healthCheckIntervalMs', 'maxReconnectDelayMs', 'connectTimeoutMs', 'healthCheckTimeoutMs']) {
        const code = await errorCode(createRedkit({ url: `redis://:right-pass-1@${server.host}:${server.port}`, [option]: bad }))
        expect(code, `${option}: ${String(bad)}`).toBe('E_INVALID_ARGUMENT')
      }
    }
    expect(await errorCode(createRedkit(null as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(createRedkit('redis://x' as never))).toBe('E_INVALID_ARGUMENT')
  }, 40_000)

  it('names an ACL denial E_PERMISSION, not E_AUTH, for a command and inside a script', async () => {
    server = await startRedisServer()
    const admin = await rawClient(server.url)
    await admin.sendCommand(['ACL', 'SETUSER', 'limited', 'on', '>limited-pass', '~*', '&*', '+@all', '-publish', '-incrby'])
    await admin.quit()
    rk = await createRedkit({ url: `redis://limited:limited-pass@${server.host}:${server.port}` })
    // Counter.incr runs a script whose INCRBY the ACL denies.
    expect(await errorCode(rk.counter('c').incr())).toBe('E_PERMISSION')
    expect(await errorCode(rk.channel('room').publish('hi'))).toBe('E_PERMISSION')
  }, 40_000)

  it('a subscription to a channel the ACL denies fails with E_PERMISSION, not a raw driver error', async () => {
    server = await startRedisServer()
    const admin = await rawClient(server.url)
    // Keys and commands allowed, channels only under other:*.
    await admin.sendCommand(['ACL', 'SETUSER', 'nochan', 'on', '>nochan-pass', '~*', 'resetchannels', '&other:*', '+@all'])
    await admin.quit()
    rk = await createRedkit({ url: `redis://nochan:nochan-pass@${server.host}:${server.port}` })
    rk.on('error', () => {})
    expect(await errorCode(rk.channel('room').subscribe(() => {}))).toBe('E_PERMISSION')
    // The other paths that subscribe before they can answer: a distributed stampede's waiters and
    // the loader holder, a live dataset, a lock waiter.
    const cache = rk.cache<number>('denied', { stampede: 'distributed' })
    const slow = cache.getOrLoad('k', async () => {
      await new Promise((resolve) => setTimeout(resolve, 200))
      return 1
    })
    expect(await errorCode(cache.getOrLoad('k', async () => 2))).toBe('E_PERMISSION')
    expect(await errorCode(slow)).toBe('E_PERMISSION')
    expect(await errorCode(rk.liveDataset('ds', { load: async () => ({ a: 1 }) }).ready())).toBe('E_PERMISSION')
    const lock = rk.lock('held', { ttlMs: 5000 })
    expect(await lock.tryAcquire()).toBe(true)
    // The waiter hears no hand-off (its channel is denied) but still gets the lock once it is released.
    setTimeout(() => void lock.release(), 200)
    const waiter = rk.lock('held', { ttlMs: 5000 })
    await waiter.acquire({ timeoutMs: 5000 })
    expect(waiter.held).toBe(true)
    await waiter.release()
  }, 40_000)
})
