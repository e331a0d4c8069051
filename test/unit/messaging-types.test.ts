import type diagnostics from 'node:diagnostics_channel'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { Redkit } from '../../src/index.js'
import { type Job, type JobInfo, jobTracing } from '../../src/messaging/index.js'

// Compile-time checks (tsc runs over test/): the payload and result types flow from the factory to
// handlers, events and snapshots. The function is never called.
async function typings(rk: Redkit) {
  const queue = rk.queue<{ orderId: string }>('orders')
  await queue.add({ orderId: 'a' })
  // @ts-expect-error the payload type is enforced
  await queue.add({ order: 1 })
  expectTypeOf(await queue.getJob('a')).toEqualTypeOf<JobInfo<{ orderId: string }, unknown> | null>()
  const worker = rk.worker<{ orderId: string }, number>('orders', (job) => {
    expectTypeOf(job).toEqualTypeOf<Job<{ orderId: string }>>()
    expectTypeOf(job.data.orderId).toBeString()
    return 1
  })
  worker.on('completed', (job, result) => {
    expectTypeOf(job.data).toEqualTypeOf<{ orderId: string }>()
    expectTypeOf(result).toBeNumber()
  })
  // @ts-expect-error the handler must return the result type
  rk.worker<{ orderId: string }, number>('orders', () => 'text')
  const chat = rk.channel<{ text: string }>('room')
  await chat.subscribe((message, { channel }) => {
    expectTypeOf(message.text).toBeString()
    expectTypeOf(channel).toBeString()
  })
  // @ts-expect-error messages are typed
  await chat.publish({ txt: 'x' })
  expectTypeOf(await rk.counter('c').incr()).toBeNumber()
  expectTypeOf(await rk.eventCounter('c').incr()).toBeString()
}

describe('messaging types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })

  it('exposes a tracing channel for job handlers', () => {
    expect((jobTracing.start as diagnostics.Channel).name).toBe('tracing:redkit:messaging:job:start')
  })
})
