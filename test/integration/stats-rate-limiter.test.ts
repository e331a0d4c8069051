import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { startChild, stopChild } from '../support/child.js'
import { countSends, errorCode, PROCESS_TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

const FIXTURE = new URL('../fixtures/stats-limiter.ts', import.meta.url).pathname
const ALGORITHMS = ['sliding-window', 'token-bucket', 'fixed-window'] as const

/** Most decisions allowed in any window of `windowMs` (an entry at s counts while now - s < windowMs). */
function maxInAnyWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++
    best = Math.max(best, end - start + 1)
  }
  return best
}

describe.each(PROCESS_TOPOLOGIES)('rate limiter on %s', (_name, options, env) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it.each(ALGORITHMS)('%s: allows exactly the limit, then denies with a retry-after, in one round trip each', async (algorithm) => {
    const rl = rk.rateLimiter(`basic-${algorithm}`, { limit: 5, windowMs: 60_000, algorithm, inMemoryBlock: false })
    const results = []
    for (let i = 0; i < 7; i++) results.push(await rl.consume('alice'))
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false])
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0])
    for (const r of results.slice(5)) {
      expect(r.retryAfterMs).toBeGreaterThan(0)
      // The sliding window gives a unit back between windowMs and windowMs + precisionMs after it was spent.
      expect(r.retryAfterMs).toBeLessThanOrEqual(60_000 + (algorithm === 'sliding-window' ? rl.precisionMs : 0))
    }
    expect((await rl.consume('bob')).remaining).toBe(4)
    expect((await rl.peek('alice')).allowed).toBe(false)
    const peeked = await rl.peek('carol')
    expect(peeked).toMatchObject({ allowed: true, remaining: 5 })
    expect((await rl.peek('carol')).remaining).toBe(5)
    await rl.reset('alice')
    expect(await rl.consume('alice')).toMatchObject({ allowed: true, remaining: 4 })
  })

  it.each(ALGORITHMS)('%s: a cost is all or nothing', async (algorithm) => {
    const rl = rk.rateLimiter(`cost-${algorithm}`, { limit: 10, windowMs: 60_000, algorithm, inMemoryBlock: false })
    expect(await rl.consume('k', 7)).toMatchObject({ allowed: true, remaining: 3 })
    expect(await rl.consume('k', 4)).toMatchObject({ allowed: false, remaining: 3 })
    expect(await rl.consume('k', 3)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('sliding window: capacity comes back as entries leave the window, retry-after says when', async () => {
    const rl = rk.rateLimiter('slide', { limit: 3, windowMs: 400, inMemoryBlock: false })
    const beforeFirst = Date.now()
    await rl.consume('k')
    const afterFirst = Date.now()
    await new Promise((r) => setTimeout(r, 150))
    await rl.consume('k', 2)
    const beforeDenied = Date.now()
    const denied = await rl.consume('k')
    const afterDenied = Date.now()
    expect(denied.allowed).toBe(false)
    // The first unit leaves the window 400 to 400 + precisionMs ms after it was counted: bounds from
    // the local clock around both calls (a loaded machine may stretch the 150 ms sleep), 20 ms for clock rounding.
    expect(denied.retryAfterMs).toBeGreaterThanOrEqual(400 - (afterDenied - beforeFirst) - 20)
    expect(denied.retryAfterMs).toBeLessThanOrEqual(400 + rl.precisionMs - (beforeDenied - afterFirst) + 20)
    await new Promise((r) => setTimeout(r, denied.retryAfterMs + 20))
    expect(await rl.consume('k')).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('the in-memory block answers over-limit keys without Redis until their retry-after', async () => {
    // A sliding 2 s window: the block lasts until the first unit leaves, ~2 s after it was spent,
    // whenever the test runs. (A fixed window spent just before its boundary blocked for a few ms:
    // the 200 local answers below reached the next window on a loaded CI machine.)
    const rl = rk.rateLimiter('blocked', { limit: 2, windowMs: 2000, algorithm: 'sliding-window' })
    while ((await rl.consume('hot')).allowed) {
      /* spend the window */
    }
    expect(rl.blockedKeys).toBe(1)
    // Count what reaches the connection (the driver below it is real).
    const send = rk.connection.send.bind(rk.connection)
    let sent = 0
    rk.connection.send = ((...args: Parameters<typeof send>) => {
      sent++
      return send(...args)
    }) as typeof send
    try {
      for (let i = 0; i < 200; i++) expect((await rl.consume('hot')).allowed).toBe(false)
    } finally {
      rk.connection.send = send
    }
    expect(sent).toBe(0)
    const blocked = await rl.consume('hot')
    expect(blocked.at).toBeUndefined()
    await new Promise((r) => setTimeout(r, blocked.retryAfterMs + 10))
    expect((await rl.consume('hot')).allowed).toBe(true)
  })

  it('decisions asked in one tick share one script call; a bad key fails only its own caller', async () => {
    const rl = rk.rateLimiter('batched', { limit: 10, windowMs: 60_000, inMemoryBlock: false })
    await rl.peek('same') // loads the script on the key's node
    const bad = `${prefix}:{batched:bad}:rl-win:10:60000:${rl.precisionMs}`
    await rk.connection.send(['HSET', bad, 's', 'garbage'], { key: bad })
    const { result: results, sends: sent } = await countSends(rk, () =>
      Promise.all(Array.from({ length: 30 }, () => rl.consume('same').catch((e: { code: string }) => e.code))),
    )
    // Standalone: one call for all 30; Cluster: one per slot, and all 30 share one key. In call order.
    expect(sent).toBe(1)
    expect(results.map((r) => typeof r !== 'string' && r.allowed)).toEqual(Array.from({ length: 30 }, (_, i) => i < 10))
    const mixed = await Promise.all([rl.consume('x1'), rl.consume('bad').catch((e: { code: string }) => e.code), rl.consume('x2')])
    expect(mixed[1]).toBe('E_DECODE')
    expect(mixed[0]).toMatchObject({ allowed: true })
    expect(mixed[2]).toMatchObject({ allowed: true })
  })

  it('bad costs, keys and options are RedkitErrors and change nothing', async () => {
    const rl = rk.rateLimiter('bad', { limit: 5, windowMs: 60_000 })
    await rl.consume('k', 2)
    for (const cost of [Number.NaN, -1, 0, 1.5, Number.POSITIVE_INFINITY, 6, '1' as unknown as number, null as unknown as number])
      expect(await errorCode(rl.consume('k', cost))).toBe('E_INVALID_ARGUMENT')
    for (const key of ['', 'a'.repeat(1025), '\uD800', 'x{y}', 'bad\n', 42 as unknown as string])
      expect(await errorCode(rl.consume(key))).toBe('E_INVALID_KEY')
    expect((await rl.peek('k')).remaining).toBe(3)
    for (const bad of [
      { limit: 0, windowMs: 1 },
      { limit: 1, windowMs: 2 ** 31 },
      { limit: 1.5, windowMs: 1 },
      { limit: 1, windowMs: Number.NaN },
    ])
      expect(await errorCode(() => rk.rateLimiter('x', bad))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(() => rk.rateLimiter('x', { limit: 1, windowMs: 1, algorithm: 'leaky' as never }))).toBe('E_INVALID_ARGUMENT')
    // The sliding window's bucket divides the window; the other algorithms take none.
    for (const bad of [
      { limit: 1, windowMs: 1000, precisionMs: 300 },
      { limit: 1, windowMs: 1000, precisionMs: 0 },
      { limit: 1, windowMs: 1_000_000, precisionMs: 1 },
      { limit: 1, windowMs: 1000, precisionMs: 100, algorithm: 'fixed-window' as const },
      { limit: 1, windowMs: 1000, precisionMs: 100, algorithm: 'token-bucket' as const },
    ])
      expect(await errorCode(() => rk.rateLimiter('x', bad)), JSON.stringify(bad)).toBe('E_INVALID_ARGUMENT')
    expect(rk.rateLimiter('x', { limit: 1, windowMs: 60_000 }).precisionMs).toBe(6000)
    expect(rk.rateLimiter('x', { limit: 1, windowMs: 1000, precisionMs: 10 }).precisionMs).toBe(10)
    expect(await errorCode(() => rk.rateLimiter('x', null as never))).toBe('E_INVALID_ARGUMENT')
    for (const name of ['', 'a:b', 'a{b', 'n'.repeat(201), '\uDBFF'])
      expect(await errorCode(() => rk.rateLimiter(name, { limit: 1, windowMs: 1 }))).toBe('E_INVALID_KEY')
  })

  it.each(ALGORITHMS)('%s: data planted in its key is refused with E_DECODE, never trusted', async (algorithm) => {
    const rl = rk.rateLimiter(`planted-${algorithm}`, { limit: 5, windowMs: 60_000, algorithm, inMemoryBlock: false })
    const part = { 'sliding-window': 'rl-win', 'token-bucket': 'rl-tat', 'fixed-window': 'rl-fixed' }[algorithm]
    const key = `${prefix}:{planted-${algorithm}:k}:${part}:5:60000${algorithm === 'sliding-window' ? `:${rl.precisionMs}` : ''}`
    if (algorithm === 'sliding-window') await rk.connection.send(['HSET', key, 's', 'garbage'], { key })
    else await rk.connection.send(['SET', key, 'garbage'], { key })
    expect(await errorCode(rl.consume('k'))).toBe('E_DECODE')
    await rl.reset('k')
    expect((await rl.consume('k')).allowed).toBe(true)
    // The wrong type is a typed error too.
    await rk.connection.send(['DEL', key], { key })
    if (algorithm === 'sliding-window') await rk.connection.send(['SET', key, '1'], { key })
    else await rk.connection.send(['HSET', key, 'a', '1'], { key })
    expect(await errorCode(rl.consume('k'))).toMatch(/^E_(SCRIPT|REDIS)$/)
  })

  it('4 processes, one hot key, clocks skewed by hours: never above each algorithm’s limit', { timeout: 120_000 }, async () => {
    // Four tsx children start and import the library before the run: 33-43 s at load 20, past 60 s at load 49.
    const goKey = `${prefix}:{go}`
    const children: ChildProcess[] = []
    const outputs: string[] = []
    try {
      for (const skew of [0, 3_600_000, -3_600_000, 7_777]) {
        const child = await startChild(FIXTURE, { ...env(), REDKIT_PREFIX: prefix, GO_KEY: goKey, RUN_MS: '3200', SKEW_MS: String(skew) })
        let out = ''
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString()
        })
        child.once('exit', () => outputs.push(out))
        children.push(child)
      }
      await rk.connection.send(['SET', goKey, '1'], { key: goKey })
      await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode === null ? c.once('exit', resolve) : resolve(null)))))
    } finally {
      await Promise.all(children.map((c) => stopChild(c)))
    }
    const runs = outputs.map((o) => JSON.parse(o.trim().split('\n').pop() as string) as { allowed: Record<string, number[]> })
    expect(runs).toHaveLength(4)
    const all = (algorithm: string) => runs.flatMap((r) => r.allowed[algorithm] ?? [])

    const sliding = all('sliding-window')
    expect(maxInAnyWindow(sliding, 1000)).toBeLessThanOrEqual(100)
    // Not vacuous: it allowed the limit, and more as units came back (1 to 1.1 s after they were spent).
    expect(sliding.length).toBeGreaterThanOrEqual(150)

    const fixed = all('fixed-window')
    const perWindow = new Map<number, number>()
    for (const at of fixed) perWindow.set(Math.floor(at / 1000), (perWindow.get(Math.floor(at / 1000)) ?? 0) + 1)
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(100)
    expect(fixed.length).toBeGreaterThanOrEqual(150)

    // Token bucket (GCRA): at most the burst (100) plus one per 10 ms in any interval.
    const bucket = [...all('token-bucket')].sort((a, b) => a - b)
    for (let i = 0; i < bucket.length; i++)
      for (let j = i; j < bucket.length; j++)
        expect(j - i + 1).toBeLessThanOrEqual(100 + Math.floor(((bucket[j] as number) - (bucket[i] as number)) / 10) + 1)
    expect(bucket.length).toBeGreaterThanOrEqual(200)
  })
})
