import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, isRedkitError, type Redkit, type RedkitError } from '../../src/index.js'
import { TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

describe.each(TOPOLOGIES)('channels on %s', (topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  it('publishes typed messages to subscribers (sharded on Cluster)', async () => {
    const chat = rk.channel<{ from: string; text: string; at: Date }>('room-1')
    expect(chat.sharded).toBe(topology === 'cluster')
    const got: Array<[string, string]> = []
    const sub = await chat.subscribe((message, { channel }) => {
      got.push([channel, `${message.from}: ${message.text} ${message.at.toISOString()}`])
    })
    const other = await createRedkit({ ...options(), prefix })
    try {
      expect(
        await other.channel<{ from: string; text: string; at: Date }>('room-1').publish({ from: 'ann', text: 'hi', at: new Date(0) }),
      ).toBe(1)
      await eventually(() => got.length === 1)
      expect(got).toEqual([['room-1', 'ann: hi 1970-01-01T00:00:00.000Z']])
      await sub.close()
      expect(await chat.publish({ from: 'bob', text: 'gone?', at: new Date(1) })).toBe(0)
    } finally {
      await other.close()
    }
  })

  it('delivers pattern subscriptions for non-sharded channels', async () => {
    const all = rk.channel<number>('sensor.*', { pattern: true })
    const got: Array<[string, number]> = []
    const sub = await all.subscribe((value, { channel }) => {
      got.push([channel, value])
    })
    await rk.channel<number>('sensor.a', { sharded: false }).publish(1)
    await rk.channel<number>('sensor.b', { sharded: false }).publish(2)
    await rk.channel<number>('other', { sharded: false }).publish(3)
    await eventually(() => got.length === 2)
    expect(got.sort()).toEqual([
      ['sensor.a', 1],
      ['sensor.b', 2],
    ])
    await expect(all.publish(1)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await sub.close()
  })

  it('routes malformed messages and handler failures to the error event, never crashing', async () => {
    const channel = rk.channel<{ n: number }>('strict', { validate: (v) => typeof (v as { n?: unknown })?.n === 'number' })
    const errors: RedkitError[] = []
    channel.on('error', (error) => errors.push(error))
    const got: number[] = []
    await channel.subscribe(async (message) => {
      if (message.n === 13) throw new Error('unlucky')
      got.push(message.n)
    })
    const command = channel.sharded ? 'SPUBLISH' : 'PUBLISH'
    await rk.connection.send([command, channel.redisName, '{"broken'], { key: channel.redisName })
    await rk.connection.send([command, channel.redisName, '{"m":1}'], { key: channel.redisName })
    await channel.publish({ n: 13 })
    await channel.publish({ n: 1 })
    await eventually(() => got.length === 1 && errors.length === 3)
    expect(errors.map((e) => e.code)).toEqual(['E_DECODE', 'E_DECODE', 'E_INVALID_ARGUMENT'])
    expect(errors[2]?.message).toContain('unlucky')
    // Without an error listener, bad messages are dropped quietly.
    const quiet = rk.channel<number>('quiet')
    const seen: number[] = []
    await quiet.subscribe((n) => {
      seen.push(n)
    })
    await rk.connection.send([command, quiet.redisName, 'nope'], { key: quiet.redisName })
    await quiet.publish(5)
    await eventually(() => seen.length === 1)
    expect(() => rk.channel('bad{name}')).toThrow()
    await expect(quiet.publish((() => 1) as unknown as number)).rejects.toMatchObject({ code: 'E_ENCODE' })
  })
})

describe.each(TOPOLOGIES)('counters on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  it('counts atomically', async () => {
    const views = rk.counter('views')
    expect(await views.value()).toBe(0)
    await Promise.all(Array.from({ length: 100 }, () => views.incr()))
    expect(await views.incr(5)).toBe(105)
    expect(await views.decr(10)).toBe(95)
    expect(await views.reset()).toBe(95)
    expect(await views.value()).toBe(0)
    expect(isRedkitError(await views.incr(1.5).catch((e: unknown) => e), 'E_INVALID_ARGUMENT')).toBe(true)
  })

  it('a consumer has the component lifecycle: closed by rk.close(), one close for every caller', async () => {
    const other = await createRedkit({ ...options(), prefix })
    const consumer = other.eventCounter('lifecycle').consume({ idleBlockMs: 100 })
    let closedEvents = 0
    consumer.on('closed', () => closedEvents++)
    expect(consumer.state).toBe('open')
    await other.close()
    expect(consumer.state).toBe('closed')
    expect(consumer.close()).toBe(consumer.close())
    await consumer.close()
    expect(closedEvents).toBe(1)
  })

  it('applies each event exactly once, in order, with any number of consumers', async () => {
    const others = await Promise.all([createRedkit({ ...options(), prefix }), createRedkit({ ...options(), prefix })])
    try {
      const counters = [rk, ...others].map((r) => r.eventCounter('page-views'))
      const consumers = counters.map((c) => c.consume({ batch: 50 }))
      const producer = counters[0]!
      let expected = 0
      const writes: Array<Promise<string>> = []
      for (let i = 0; i < 600; i++) {
        if (i === 300) {
          await Promise.all(writes)
          writes.push(producer.reset(1000))
          expected = 1000
        } else if (i % 7 === 0) {
          writes.push(producer.decr(2))
          expected -= 2
        } else {
          writes.push(producer.incr(3))
          expected += 3
        }
        if (i === 300) await Promise.all(writes)
      }
      await Promise.all(writes)
      await eventually(async () => (await producer.pending()) === 0 && (await producer.value()) === expected)
      expect(await producer.value()).toBe(expected)
      // Concurrent one-shot applies never double-apply either.
      for (let i = 0; i < 100; i++) writes.push(producer.incr(1))
      await Promise.all(writes)
      await Promise.all(counters.map((c) => c.apply()))
      await eventually(async () => (await producer.value()) === expected + 100)
      await Promise.all(consumers.map((c) => c.close()))
      expect(await producer.pending()).toBe(0)
    } finally {
      await Promise.all(others.map((r) => r.close()))
    }
  })

  it('skips malformed events written outside redkit', async () => {
    const counter = rk.eventCounter('mixed')
    await counter.incr(2)
    await rk.connection.send(['XADD', counter.keys.events, '*', 'o', 'i', 'n', 'lots'], { key: counter.keys.events })
    await rk.connection.send(['XADD', counter.keys.events, '*', 'x', 'y'], { key: counter.keys.events })
    await counter.incr(3)
    expect(await counter.apply()).toEqual({ applied: 4, value: 5, pending: 0, skipped: 2 })
    expect(await counter.apply()).toEqual({ applied: 0, value: 5, pending: 0, skipped: 0 })
  })
})
