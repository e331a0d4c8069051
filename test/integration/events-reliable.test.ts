import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExpiryEvent } from '../../src/events/index.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

function collector() {
  const events: ExpiryEvent[] = []
  const waiters: Array<{ n: number; resolve: () => void }> = []
  return {
    events,
    handler: (event: ExpiryEvent) => {
      events.push(event)
      for (const w of waiters) if (events.length >= w.n) w.resolve()
    },
    waitFor(n: number, timeoutMs = 10_000): Promise<void> {
      if (events.length >= n) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${events.length} of ${n} events`)), timeoutMs)
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
  }
}

describe.each(TOPOLOGIES)('reliable expirations on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  it('delivers each expiry on time with its value and a stable id', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:cache:*`, c.handler, { withValue: true })
    const keys = Array.from({ length: 50 }, (_, i) => `${prefix}:cache:products:${i}`)
    await Promise.all(keys.map((key, i) => rk.expirations.set(key, { id: i, at: new Date(i) }, { ttlMs: 200 + (i % 5) * 50 })))
    await c.waitFor(50)
    expect(new Set(c.events.map((e) => e.key))).toEqual(new Set(keys))
    for (const e of c.events) {
      expect(e.id).toBe(`${e.key}@${e.deadline}`)
      expect(e.lateMs).toBeLessThan(500)
      expect(e.lateMs).toBeGreaterThanOrEqual(-50)
      const i = Number(e.key.split(':').pop())
      expect(e.value).toEqual({ id: i, at: new Date(i) })
      expect(e.mode).toBe('reliable')
    }
    await sub.close()
  })

  it('cancels the event when the key is re-set, deleted or persisted, and moves it when re-set', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:cancel:*`, c.handler)
    await rk.expirations.set(`${prefix}:cancel:deleted`, 1, { ttlMs: 600 })
    await rk.expirations.set(`${prefix}:cancel:persisted`, 1, { ttlMs: 600 })
    await rk.expirations.set(`${prefix}:cancel:moved`, 1, { ttlMs: 600 })
    await rk.expirations.set(`${prefix}:cancel:kept`, 1, { ttlMs: 600 })
    expect(await rk.expirations.delete(`${prefix}:cancel:deleted`)).toBe(true)
    expect(await rk.expirations.persist(`${prefix}:cancel:persisted`)).toBe(true)
    // Long enough that no write below comes after a first deadline on a loaded machine (a key written
    // again after it expired keeps that expiry too).
    const movedDeadline = await rk.expirations.set(`${prefix}:cancel:moved`, 2, { ttlMs: 1200 })
    await c.waitFor(2, 5000)
    await new Promise((r) => setTimeout(r, 300))
    expect(c.events.map((e) => e.key).sort()).toEqual([`${prefix}:cancel:kept`, `${prefix}:cancel:moved`])
    expect(c.events.find((e) => e.key.endsWith('moved'))?.deadline).toBe(movedDeadline)
    const persisted = await rk.connection.send(['GET', `${prefix}:cancel:persisted`], { key: `${prefix}:cancel:persisted` })
    expect(persisted).toBe('1')
    await sub.close()
  })

  it('tracks keys given a TTL elsewhere and follows later TTL changes', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:tracked:*`, c.handler, { withValue: true })
    const key = `${prefix}:tracked:a`
    await rk.connection.send(['SET', key, 'raw-value', 'PX', '200'], { key })
    const first = await rk.expirations.track(key, { keepValue: true })
    expect(first).toBeGreaterThan(0)
    await rk.connection.send(['PEXPIRE', key, '600'], { key })
    expect(await rk.expirations.track(`${prefix}:tracked:missing`)).toBeUndefined()
    await rk.connection.send(['SET', `${prefix}:tracked:forever`, 'x'], { key: `${prefix}:tracked:forever` })
    expect(await rk.expirations.track(`${prefix}:tracked:forever`)).toBeUndefined()
    await c.waitFor(1, 5000)
    expect(c.events[0]?.key).toBe(key)
    expect(c.events[0]?.value).toBe('raw-value')
    expect(c.events[0]?.deadline).toBeGreaterThan((first ?? 0) + 300)
    await sub.close()
  })

  it("follows a TTL shortened outside redkit to the key's own new expiry time, with the value it held then", async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:shortened:*`, c.handler, { withValue: true })
    const key = `${prefix}:shortened:a`
    await rk.connection.send(['SET', key, 'first', 'PX', '30000'], { key })
    const tracked = await rk.expirations.track(key, { keepValue: true })
    // Outside redkit: a new value, and a TTL 27 s shorter.
    await rk.connection.send(['SET', key, 'second', 'KEEPTTL'], { key })
    await rk.connection.send(['PEXPIRE', key, '2500'], { key })
    const real = await rk.connection.send<number>(['PEXPIRETIME', key], { key })
    await c.waitFor(1, 10_000)
    const event = c.events[0]
    expect(event?.deadline).toBe(real)
    expect(event?.deadline).toBeLessThan(tracked ?? 0)
    expect(event?.lateMs).toBeLessThan(1000)
    expect(event?.value).toBe('second')
    await sub.close()
  })

  it('a tracked key that expires early and is then recreated without a TTL still gets its event', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:recreated:*`, c.handler)
    const key = `${prefix}:recreated:a`
    await rk.connection.send(['SET', key, 'v', 'PX', '30000'], { key })
    await rk.expirations.track(key)
    const before = Date.now()
    await rk.connection.send(['PEXPIRE', key, '100'], { key })
    // Gone, then re-read (about every second), then recreated without a TTL by another program.
    await new Promise((r) => setTimeout(r, 2500))
    await rk.connection.send(['SET', key, 'again'], { key })
    await c.waitFor(1, 10_000)
    const event = c.events[0]
    expect(event?.key).toBe(key)
    // Found gone at the re-read: the deadline is then, not the recorded 30 s (lateness is measured from it).
    expect(event?.deadline).toBeLessThan(before + 5000)
    await sub.close()
  })

  it('delivers a value given at track/expire for keys of any type (a hash here)', async () => {
    const c = collector()
    const sub = await rk.expirations.on(`${prefix}:owned:*`, c.handler, { withValue: true })
    const hash = `${prefix}:owned:hash`
    await rk.connection.send(['HSET', hash, 'f', '1'], { key: hash })
    await rk.connection.send(['PEXPIRE', hash, '150'], { key: hash })
    expect(await rk.expirations.track(hash, { value: { owner: 'ada', since: new Date(5) } })).toBeGreaterThan(0)
    const other = `${prefix}:owned:expired-by-us`
    await rk.connection.send(['HSET', other, 'f', '1'], { key: other })
    expect(await rk.expirations.expire(other, 150, { value: 'bob', keepValue: true })).toBeGreaterThan(0)
    await c.waitFor(2, 5000)
    const byKey = new Map(c.events.map((e) => [e.key, e.value]))
    expect(byKey.get(hash)).toEqual({ owner: 'ada', since: new Date(5) })
    expect(byKey.get(other)).toBe('bob')
    expect(await errorCode(rk.expirations.track(hash, { value: () => 1 }))).toBe('E_ENCODE')
    await sub.close()
  })

  it('retries a failing handler with backoff and dead-letters it after the last attempt', async () => {
    const calls: number[] = []
    const dead = new Promise((resolve) => rk.expirations.events.once('dead', resolve))
    const sub = await rk.expirations.on(
      `${prefix}:failing:*`,
      (e) => {
        calls.push(e.attempt)
        throw new Error('handler broke')
      },
      { group: 'failing', attempts: 3, backoff: { delayMs: 20 } },
    )
    await rk.expirations.set(`${prefix}:failing:1`, 1, { ttlMs: 100 })
    const letter = (await dead) as { key: string; error: string; attempts: number }
    expect(letter.key).toBe(`${prefix}:failing:1`)
    expect(letter.error).toBe('handler broke')
    expect(calls).toEqual([1, 2, 3])
    const letters = await rk.expirations.deadLetters()
    const mine = letters.find((l) => l.key === `${prefix}:failing:1` && l.group === 'failing')
    expect(mine?.error).toBe('handler broke')
    expect(mine?.attempts).toBe(3)
    expect(Math.abs((mine?.at ?? 0) - Date.now())).toBeLessThan(10_000)
    await sub.close()
  })

  it('gives every group each expiry', async () => {
    const a = collector()
    const b = collector()
    const subA = await rk.expirations.on(`${prefix}:groups:*`, a.handler, { group: 'ga' })
    const subB = await rk.expirations.on(`${prefix}:groups:*`, b.handler, { group: 'gb' })
    await Promise.all(Array.from({ length: 20 }, (_, i) => rk.expirations.set(`${prefix}:groups:${i}`, i, { ttlMs: 100 })))
    await Promise.all([a.waitFor(20), b.waitFor(20)])
    expect(new Set(a.events.map((e) => e.id))).toEqual(new Set(b.events.map((e) => e.id)))
    await Promise.all([subA.close(), subB.close()])
  })

  it('rejects bad input with typed errors and leaves stored data alone', async () => {
    const key = `${prefix}:bad:1`
    await rk.expirations.set(key, 'original', { ttlMs: 60_000 })
    for (const ttlMs of [0, -1, Number.NaN, 2 ** 53, 1.5, Number.POSITIVE_INFINITY]) {
      expect(await errorCode(rk.expirations.set(key, 'changed', { ttlMs })), String(ttlMs)).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(rk.expirations.expire(key, ttlMs)), String(ttlMs)).toBe('E_INVALID_ARGUMENT')
    }
    expect(await errorCode(rk.expirations.set(key, () => 1, { ttlMs: 1000 }))).toBe('E_ENCODE')
    expect(await errorCode(rk.expirations.set(key, { n: Number.NaN }, { ttlMs: 1000 }))).toBe('E_ENCODE')
    expect(await errorCode(rk.expirations.set('', 1, { ttlMs: 1000 }))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.set('bad\nkey', 1, { ttlMs: 1000 }))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.on('', () => {}))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.on('a[b', () => {}))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on('a:*', () => {}, { group: 'bad{group}' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(rk.expirations.on('a:*', 'nope' as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on('a:*', () => {}, { attempts: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(rk.expirations.on('a:*', () => {}, { concurrency: 1.5 }))).toBe('E_INVALID_ARGUMENT')
    expect(rk.codec.decode(await rk.connection.send<string>(['GET', key], { key }))).toBe('original')
    const ttl = await rk.connection.send<number>(['PTTL', key], { key })
    expect(ttl).toBeGreaterThan(50_000)
  })
})
