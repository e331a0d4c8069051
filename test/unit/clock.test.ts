import { describe, expect, it } from 'vitest'
import { sleep, TestClock } from '../../src/core/clock.js'

describe('TestClock', () => {
  it('fires timers in due order only when time is advanced', async () => {
    const clock = new TestClock(1000)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('b'), 20)
    clock.setTimeout(() => fired.push('a'), 10)
    clock.setTimeout(() => fired.push('c'), 20)
    expect(clock.now()).toBe(1000)
    await clock.advance(15)
    expect(fired).toEqual(['a'])
    expect(clock.now()).toBe(1015)
    await clock.advance(5)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(clock.pending).toBe(0)
  })

  it('repeats intervals and stops cleared timers', async () => {
    const clock = new TestClock()
    let ticks = 0
    const interval = clock.setInterval(() => ticks++, 10)
    const timeout = clock.setTimeout(() => (ticks += 100), 5)
    clock.clearTimeout(timeout)
    await clock.advance(35)
    expect(ticks).toBe(3)
    clock.clearInterval(interval)
    await clock.advance(100)
    expect(ticks).toBe(3)
  })

  it('runs promise continuations of one timer before the next fires', async () => {
    const clock = new TestClock()
    const order: string[] = []
    const slept = sleep(10, undefined, clock).then(() => order.push('sleep done'))
    clock.setTimeout(() => order.push('later timer'), 11)
    await clock.advance(20)
    await slept
    expect(order).toEqual(['sleep done', 'later timer'])
  })

  it('sleep rejects with the abort reason', async () => {
    const clock = new TestClock()
    const controller = new AbortController()
    const slept = sleep(1000, controller.signal, clock)
    controller.abort(new Error('stop'))
    await expect(slept).rejects.toThrow('stop')
    expect(clock.pending).toBe(0)
  })
})
