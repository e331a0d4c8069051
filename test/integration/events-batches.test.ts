import { afterEach, describe, expect, it } from 'vitest'
import type { DeadLetter, ExpiryEvent } from '../../src/events/index.js'
import { startChild, stopChild } from '../support/child.js'
import { PROCESS_TOPOLOGIES } from '../support/expect.js'
import { openedRedkits, testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// Expiry events travel in batches: one stream entry per sweep batch of up to 100 events (issue 10,
// performance: one entry per event capped delivery at ~42,000 events/s). Each event is still
// handled, retried, counted and dead-lettered on its own, and an entry is acknowledged once all
// its events are settled.

const { open, closeOpened } = openedRedkits()
afterEach(closeOpened)

describe.each(PROCESS_TOPOLOGIES)('expiry batches on %s', (_topology, options, env) => {
  // One hash tag: on Cluster the keys share a slot, so one slot sweep claims them together.
  const keyOf = (prefix: string, i: number) => `${prefix}:{b}:${i}`

  it('1,000 keys due together travel in at most 20 stream entries, each event handled once', async () => {
    const prefix = testPrefix()
    const rk = await open({ ...options(), prefix, expirations: { sweep: false } })
    const calls = new Map<string, number>()
    await rk.expirations.on(`${prefix}:*`, (e) => void calls.set(e.key, (calls.get(e.key) ?? 0) + 1), { group: 'burst' })
    await Promise.all(Array.from({ length: 1000 }, (_, i) => rk.expirations.set(keyOf(prefix, i), i, { ttlMs: 100, keepValue: false })))
    await sleep(300)
    // One sweeper, started once every key is due.
    const sweeper = await open({ ...options(), prefix })
    sweeper.expirations.sweepNow()
    await eventually(() => calls.size === 1000, 20_000, '1,000 events')
    await sleep(300)
    expect([...calls.values()].every((n) => n === 1)).toBe(true)
    const stream = rk.keys.object('exp')('events')
    const entries = await rk.connection.send<number>(['XLEN', stream], { key: stream })
    expect(entries).toBeGreaterThan(0)
    expect(entries).toBeLessThanOrEqual(20)
  }, 60_000)

  it('a failing event of a batch is retried and dead-lettered alone; the others are handled once', async () => {
    const prefix = testPrefix()
    const rk = await open({ ...options(), prefix })
    const dead: DeadLetter[] = []
    rk.expirations.events.on('dead', (l) => dead.push(l))
    const attempts = new Map<string, number[]>()
    const bad = keyOf(prefix, 7)
    await rk.expirations.on(
      `${prefix}:*`,
      (e) => {
        attempts.set(e.key, [...(attempts.get(e.key) ?? []), e.attempt])
        if (e.key === bad) throw new Error('bad one')
      },
      { group: 'fail', attempts: 3, backoff: { delayMs: 50, maxDelayMs: 50 } },
    )
    await Promise.all(Array.from({ length: 50 }, (_, i) => rk.expirations.set(keyOf(prefix, i), i, { ttlMs: 150 })))
    await eventually(() => dead.length === 1 && attempts.size === 50, 15_000, 'the bad event dead-lettered, the others handled')
    await sleep(500)
    expect(attempts.get(bad)).toEqual([1, 2, 3])
    expect(dead[0]?.key).toBe(bad)
    expect(dead[0]?.error).toBe('bad one')
    for (const [key, seen] of attempts) if (key !== bad) expect(seen).toEqual([1])
    const letters = (await rk.expirations.deadLetters()).filter((l) => l.group === 'fail')
    expect(letters.map((l) => l.key)).toEqual([bad])
    // The entry is acknowledged once all its events are settled, and no failure count is left behind.
    const exp = rk.keys.object('exp')
    await eventually(
      async () => {
        const summary = await rk.connection.send<unknown[]>(['XPENDING', exp('events'), 'fail'], { key: exp('events') })
        return Number(summary[0]) === 0
      },
      5000,
      'nothing pending',
    )
    expect(await rk.connection.send<number>(['HLEN', exp('failures')], { key: exp('failures') })).toBe(0)
  }, 30_000)

  it('a consumer killed midway through a batch: the batch is taken over, every event handled, its dead letter not repeated', async () => {
    const prefix = testPrefix()
    const child = await startChild(
      'test/fixtures/expiry-consumer.ts',
      { ...env(), REDKIT_PREFIX: prefix, REDKIT_GROUP: 'midway', REDKIT_FAIL_SUFFIX: ':{b}:3' },
      60_000,
    )
    let got = ''
    child.stdout?.on('data', (d: Buffer) => {
      got += d.toString()
    })
    try {
      const rk = await open({ ...options(), prefix, expirations: { reclaimIdleMs: 500 } })
      await Promise.all(Array.from({ length: 30 }, (_, i) => rk.expirations.set(keyOf(prefix, i), i, { ttlMs: 100 })))
      // The child holds the whole batch: 29 handlers hang, one failed and was dead-lettered (attempts: 1).
      await eventually(() => (got.match(/^got /gm)?.length ?? 0) === 29 && got.includes('failed '), 10_000, 'the child holds the batch')
      // Killed once its dead letter is written (its entry still pending, the event marked dead).
      await eventually(
        async () => (await rk.expirations.deadLetters()).some((l) => l.group === 'midway'),
        10_000,
        "the child's dead letter",
      )
      await stopChild(child)
      const seen: ExpiryEvent[] = []
      await rk.expirations.on(`${prefix}:*`, (e) => void seen.push(e), { group: 'midway', attempts: 1 })
      const distinct = () => new Set(seen.map((e) => e.key))
      await eventually(() => distinct().size >= 29, 30_000, 'the batch taken over')
      await sleep(500)
      // At least once: a claim re-delivered on Cluster may repeat an event, never the dead-lettered one.
      expect([...distinct()].sort()).toEqual(
        Array.from({ length: 30 }, (_, i) => keyOf(prefix, i))
          .filter((k) => !k.endsWith(':{b}:3'))
          .sort(),
      )
      expect(seen.every((e) => e.attempt === 1)).toBe(true)
      const letters = (await rk.expirations.deadLetters()).filter((l) => l.group === 'midway')
      expect(letters.map((l) => l.key)).toEqual([keyOf(prefix, 3)])
    } finally {
      await stopChild(child)
    }
  }, 90_000)
})
