import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit, type RedkitError } from '../../src/index.js'
import { type ChaosProxy, startChaosProxy } from '../support/chaos-proxy.js'
import { closeAll, type RawClient, rawClient, standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// Issue 11 bug 10: a subscriber connection that goes half-open (no error, no data) used to silence
// every channel until TCP keepalive noticed, about 11 minutes. The shared subscriber is PINGed on the
// health check's cadence; one that does not answer is replaced, its subscriptions move to the new
// connection, and channels emit `resync` (false, then true) so their users know what was missed.
describe('the shared pub/sub connection goes half-open', () => {
  let proxy: ChaosProxy
  let rk: Redkit
  let raw: RawClient
  const errors: RedkitError[] = []

  beforeAll(async () => {
    const target = new URL(standaloneUrl())
    proxy = await startChaosProxy({ host: target.hostname, port: Number(target.port) })
    rk = await createRedkit({ url: proxy.url, prefix: testPrefix(), healthCheckIntervalMs: 200, healthCheckTimeoutMs: 300 })
    rk.on('error', (e) => errors.push(e))
    raw = await rawClient()
  })

  afterAll(async () => {
    await rk?.close()
    await closeAll(raw)
    await proxy?.close()
  })

  it('is replaced within interval + timeout; subscriptions move over and channels say resync', async () => {
    const chat = rk.channel<string>('room')
    const heard: string[] = []
    const resyncs: boolean[] = []
    chat.on('resync', (healthy) => resyncs.push(healthy))
    const sub = await chat.subscribe((text) => void heard.push(text))
    await raw.publish(chat.redisName, JSON.stringify('before'))
    await eventually(() => heard.includes('before'), 5000, 'heard before the freeze')

    proxy.freeze()
    const frozenAt = Date.now()
    await eventually(() => resyncs.includes(true), 10_000, 'resync(true) after the replacement')
    const recoveredMs = Date.now() - frozenAt
    expect(resyncs.slice(0, 2)).toEqual([false, true])
    expect(errors.some((e) => e.code === 'E_TIMEOUT' && /pub\/sub/.test(e.message))).toBe(true)
    // Within the health-check interval plus its timeout, with room for a loaded machine.
    expect(recoveredMs).toBeLessThan(200 + 300 + 3000)
    await raw.publish(chat.redisName, JSON.stringify('after'))
    await eventually(() => heard.includes('after'), 5000, 'heard on the new connection')
    await sub.close()
  })

  it('a replacement that cannot connect (Redis unreachable) is retried on the next checks, and the channel hears again', async () => {
    const chat = rk.channel<string>('room-2')
    const heard: string[] = []
    const resyncs: boolean[] = []
    chat.on('resync', (healthy) => resyncs.push(healthy))
    const sub = await chat.subscribe((text) => void heard.push(text))
    // Half-open, and no new connection gets through: the replacement fails.
    proxy.refuse(true)
    proxy.freeze()
    await eventually(() => resyncs.includes(false), 10_000, 'the stalled subscriber noticed')
    // Longer than connectTimeoutMs (5 s): the replacement's own connect gives up.
    await sleep(6500)
    expect(resyncs.includes(true)).toBe(false)
    proxy.refuse(false)
    await eventually(() => resyncs.includes(true), 15_000, 'subscriptions restored once Redis is reachable')
    await raw.publish(chat.redisName, JSON.stringify('back'))
    await eventually(() => heard.includes('back'), 5000, 'heard after the restore')
    await sub.close()
  }, 40_000)
})
