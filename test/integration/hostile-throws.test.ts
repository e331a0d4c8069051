import { afterEach, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

// Review 13 finding 14, the cases hostile-input.test.ts "a thrown null-prototype object…" does not
// cover: a channel handler that throws such a value synchronously (it was swallowed without a
// report), and an expiry handler that does (its dead letter was never written: the event stayed
// pending for ever). Reports are built with core's thrownText().
describe('handlers and callbacks that throw a value with no text', () => {
  let rk: Redkit
  const rejections: unknown[] = []
  const onRejection = (reason: unknown) => rejections.push(reason)
  afterEach(async () => {
    process.off('unhandledRejection', onRejection)
    await rk?.close()
  })

  async function open(): Promise<Redkit> {
    rejections.length = 0
    process.on('unhandledRejection', onRejection)
    rk = await createRedkit({ url: standaloneUrl(), prefix: testPrefix() })
    return rk
  }

  it('a channel handler that throws one, synchronously or not, is reported each time', async () => {
    const rk = await open()
    const errors: string[] = []
    const channel = rk.channel<number>('hostile')
    channel.on('error', (error) => errors.push(error.code))
    await channel.subscribe((n) =>
      n === 1
        ? Promise.reject(Object.create(null))
        : (() => {
            throw Object.create(null)
          })(),
    )
    await channel.publish(1)
    await channel.publish(2)
    await eventually(() => errors.length === 2, 5000, 'both failures reported')
    expect(errors).toEqual(['E_INVALID_ARGUMENT', 'E_INVALID_ARGUMENT'])
    expect(rejections).toEqual([])
  })

  it('an expiry handler that throws one is retried, then dead-lettered with a readable error', async () => {
    const rk = await open()
    const prefix = rk.keys.prefix
    const dead: string[] = []
    rk.expirations.events.on('dead', (letter) => dead.push(letter.error))
    let calls = 0
    await rk.expirations.on(
      `${prefix}:*`,
      () => {
        calls++
        throw Object.create(null)
      },
      { attempts: 2, backoff: { delayMs: 10 } },
    )
    await rk.expirations.set(`${prefix}:k`, 1, { ttlMs: 50 })
    await eventually(() => dead.length === 1, 10_000, 'the dead letter')
    expect(calls).toBe(2)
    expect(dead[0]).toMatch(/no text|object/)
    expect(rejections).toEqual([])
  })
})
