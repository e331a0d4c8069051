import { describe, expect, it } from 'vitest'
import { TestClock } from '../../src/core/clock.js'
import type { RedkitError } from '../../src/core/errors.js'
import { Hold, type HoldOptions } from '../../src/lock/hold.js'

// The lock watchdog on a clock driven by hand: the extension "round trip" is a promise the test settles.
function hold(clock: TestClock, overrides: Partial<HoldOptions> = {}) {
  const calls: Array<{ ttlMs: number; at: number; settle: (ok: boolean) => void }> = []
  const lost: RedkitError[] = []
  const h = new Hold({
    name: 'lock t',
    host: { onClose: () => () => {} },
    clock,
    owner: 'o',
    fence: 7,
    ttlMs: 3000,
    validForMs: 3000,
    grantedAfter: clock.now(),
    watchdog: true,
    extend: (_owner, ttlMs) => new Promise<boolean>((settle) => calls.push({ ttlMs, at: clock.now(), settle })),
    lost: (error) => lost.push(error),
    ...overrides,
  })
  return { h, calls, lost }
}

describe('lock hold (watchdog)', () => {
  it('renews every ttl/3 and moves the local deadline to the send time of the last renewal', async () => {
    const clock = new TestClock()
    const start = clock.now()
    const { h, calls } = hold(clock)
    expect(h.deadline).toBe(start + 3000 - 32)
    await clock.advance(1000)
    expect(calls).toHaveLength(1)
    await clock.advance(200)
    calls[0]?.settle(true)
    await clock.advance(0)
    // Valid from when the renewal was sent (t+1000), not from when its reply came back.
    expect(h.deadline).toBe(start + 1000 + 3000 - 32)
    expect(h.active).toBe(true)
    void h.close()
  })

  it('aborts the signal at the local deadline while a renewal is still pending, and never overlaps renewals', async () => {
    const clock = new TestClock()
    const start = clock.now()
    const { h, calls, lost } = hold(clock)
    await clock.advance(1000)
    expect(calls).toHaveLength(1)
    // The renewal hangs (a stalled connection): no second one starts, and the deadline still fires.
    await clock.advance(2000 - 33)
    expect(calls).toHaveLength(1)
    expect(h.signal.aborted).toBe(false)
    await clock.advance(1)
    expect(clock.now()).toBe(start + 3000 - 32)
    expect(h.signal.aborted).toBe(true)
    expect(lost.map((e) => e.code)).toEqual(['E_LOCK_LOST'])
    // The late reply changes nothing.
    calls[0]?.settle(true)
    await clock.advance(0)
    expect(h.active).toBe(false)
  })

  it('extend(ttlMs) sets the TTL later renewals ask for', async () => {
    const clock = new TestClock()
    const { h, calls } = hold(clock)
    const extended = h.extend(60_000)
    await clock.advance(0)
    calls[0]?.settle(true)
    expect(await extended).toBe(true)
    await clock.advance(20_000)
    expect(calls.map((c) => c.ttlMs)).toEqual([60_000, 60_000])
    void h.close()
  })

  it('a renewal the server refuses ends the hold at once', async () => {
    const clock = new TestClock()
    const { h, calls, lost } = hold(clock)
    await clock.advance(1000)
    calls[0]?.settle(false)
    await clock.advance(0)
    expect(h.active).toBe(false)
    expect(lost).toHaveLength(1)
  })

  // Finding 24: a failed renewal was retried ttlMs/10 later, after the deadline of a hold handed
  // over for a place's life (3 s of a 30 s TTL): one blip lost the lock.
  it('a failed first renewal of a short handoff is retried well before its deadline', async () => {
    const clock = new TestClock()
    const start = clock.now()
    const { h, calls, lost } = hold(clock, {
      ttlMs: 30_000,
      validForMs: 3000,
      extend: (_owner, ttlMs) =>
        new Promise<boolean>((settle, reject) => {
          calls.push({ ttlMs, at: clock.now(), settle })
          if (calls.length === 1) reject(new Error('connection blip'))
        }),
    })
    await clock.advance(1000)
    expect(calls).toHaveLength(1)
    await clock.advance(400)
    expect(calls).toHaveLength(2)
    expect(calls[1]?.at).toBeLessThan(start + 3000 - 32)
    calls[1]?.settle(true)
    await clock.advance(0)
    expect(h.active).toBe(true)
    expect(lost).toHaveLength(0)
    void h.close()
  })

  // Finding 2: the deadline is checked when active or signal.aborted is read, not only by its timer.
  it('reading signal.aborted or active past the deadline ends the hold before any timer runs', () => {
    const timers = new TestClock()
    let skew = 0
    // Time moves without timers running: what a blocked event loop looks like from inside.
    const clock = {
      now: () => timers.now() + skew,
      setTimeout: timers.setTimeout.bind(timers),
      clearTimeout: timers.clearTimeout.bind(timers),
      setInterval: timers.setInterval.bind(timers),
      clearInterval: timers.clearInterval.bind(timers),
    } as unknown as TestClock
    const { h, lost } = hold(clock, { watchdog: false })
    const signal = h.signal
    skew = 2900
    expect(signal.aborted).toBe(false)
    expect(h.active).toBe(true)
    skew = 3000
    expect(signal.aborted).toBe(true)
    expect(h.active).toBe(false)
    expect(lost.map((e) => e.code)).toEqual(['E_LOCK_LOST'])
    expect(() => signal.throwIfAborted()).toThrow()
  })

  // The signal is made when first read (most holds end unread): read after the end, it is already
  // aborted with the end's reason; read before, it aborts at the end.
  it('a signal read after the hold ended is already aborted with the reason of its end', async () => {
    const clock = new TestClock()
    const released = hold(clock).h
    const early = released.signal
    released.end()
    expect(early.aborted).toBe(true)
    expect(released.signal.aborted).toBe(true)
    expect((released.signal.reason as RedkitError).message).toBe('the hold was released')
    const { h, calls } = hold(clock)
    await clock.advance(1000)
    calls[0]?.settle(false)
    await clock.advance(0)
    expect(h.signal.aborted).toBe(true)
    expect((h.signal.reason as RedkitError).code).toBe('E_LOCK_LOST')
  })

  // One timer serves the renewal and the deadline: without a watchdog there is no renewal, and the
  // deadline still ends the hold.
  it('without a watchdog, nothing renews and the deadline ends the hold', async () => {
    const clock = new TestClock()
    const { h, calls, lost } = hold(clock, { watchdog: false })
    await clock.advance(3000)
    expect(calls).toHaveLength(0)
    expect(h.active).toBe(false)
    expect(lost.map((e) => e.code)).toEqual(['E_LOCK_LOST'])
  })
})
