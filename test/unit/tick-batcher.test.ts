import { describe, expect, it } from 'vitest'
import { TickBatcher } from '../../src/stats/tick-batcher.js'

/** A send that records each call's items and answers when told to. */
function controlledSend() {
  const calls: Array<{ items: number[]; answer(): void }> = []
  const send = (_group: number, items: readonly number[]) =>
    new Promise<number[]>((resolve) => {
      calls.push({ items: [...items], answer: () => resolve(items.map((i) => i * 10)) })
    })
  return { calls, send }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))
/** Past the turns a split tick's second half waits. */
const turns = async () => {
  for (let i = 0; i < 10; i++) await tick()
}

describe('TickBatcher', () => {
  it('one call per tick and group by default', async () => {
    const { calls, send } = controlledSend()
    const batcher = new TickBatcher<number, number, number>(send)
    const results = Promise.all(Array.from({ length: 40 }, (_, i) => batcher.run(0, i)))
    await tick()
    expect(calls.map((c) => c.items.length)).toEqual([40])
    for (const c of calls) c.answer()
    expect(await results).toEqual(Array.from({ length: 40 }, (_, i) => i * 10))
  })

  // Issue 15: one call in flight made client and server take turns (0.98x the peer on a quiet machine).
  it('splitFrom: a large tick goes out as two calls, in order and turns apart, when none is in flight; the next tick stays whole', async () => {
    const { calls, send } = controlledSend()
    const batcher = new TickBatcher<number, number, number>(send, { splitFrom: 16 })
    const first = Promise.all(Array.from({ length: 41 }, (_, i) => batcher.run(0, i)))
    await tick()
    // The second half goes a few turns later: node-redis writes one turn's calls in one write, and
    // Redis answers what it read together only after running all of it, so halves sent together
    // came back together and stayed one batch.
    expect(calls.map((c) => c.items.length)).toEqual([21])
    await turns()
    expect(calls.map((c) => c.items)).toEqual([Array.from({ length: 21 }, (_, i) => i), Array.from({ length: 20 }, (_, i) => 21 + i)])
    // The first half answers; its callers ask again while the second half is in flight: one call.
    calls[0]?.answer()
    await tick()
    const again = Promise.all(Array.from({ length: 21 }, (_, i) => batcher.run(0, 100 + i)))
    await turns()
    expect(calls.map((c) => c.items.length)).toEqual([21, 20, 21])
    // Another group has nothing in flight: it splits.
    const other = Promise.all(Array.from({ length: 16 }, (_, i) => batcher.run(1, i)))
    await turns()
    expect(calls.map((c) => c.items.length)).toEqual([21, 20, 21, 8, 8])
    // A tick below splitFrom stays one call even when nothing is in flight.
    for (const c of calls.slice(1)) c.answer()
    await Promise.all([first, again, other])
    const small = Promise.all(Array.from({ length: 15 }, (_, i) => batcher.run(0, i)))
    await turns()
    expect(calls.slice(5).map((c) => c.items.length)).toEqual([15])
    calls[5]?.answer()
    expect(await small).toEqual(Array.from({ length: 15 }, (_, i) => i * 10))
    expect(await first).toEqual(Array.from({ length: 41 }, (_, i) => i * 10))
  })

  it('splitFrom: a tick flushed while the second half waits goes out after it, whole', async () => {
    const { calls, send } = controlledSend()
    const batcher = new TickBatcher<number, number, number>(send, { splitFrom: 16 })
    const first = Promise.all(Array.from({ length: 20 }, (_, i) => batcher.run(0, i)))
    await tick()
    const next = Promise.all(Array.from({ length: 20 }, (_, i) => batcher.run(0, 20 + i)))
    await turns()
    expect(calls.map((c) => c.items[0])).toEqual([0, 10, 20])
    expect(calls.map((c) => c.items.length)).toEqual([10, 10, 20])
    for (const c of calls) c.answer()
    expect([...(await first), ...(await next)]).toEqual(Array.from({ length: 40 }, (_, i) => i * 10))
  })

  it('a failed call is retried one item at a time, and does not count as in flight after', async () => {
    let fail = true
    const sizes: number[] = []
    const batcher = new TickBatcher<number, number, number>(
      async (_group, items) => {
        sizes.push(items.length)
        if (fail && items.length > 1) throw new Error('batch refused')
        return items.map((i) => (i === 3 ? new Error('bad item') : i))
      },
      { splitFrom: 4 },
    )
    const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => batcher.run(0, i)))
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1)
    expect(sizes.filter((n) => n === 4)).toHaveLength(2) // two halves, each failed and sent again item by item
    expect(sizes.filter((n) => n === 1)).toHaveLength(8)
    fail = false
    sizes.length = 0
    await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.run(0, 10 + i)))
    expect(sizes).toEqual([4, 4])
  })
})
