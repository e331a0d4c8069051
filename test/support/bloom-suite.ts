import { expect, it } from 'vitest'
import type { Redkit } from '../../src/index.js'
import { errorCode } from './expect.js'

/**
 * The promises both bloom backends keep, one copy for `stats-bloom.test.ts` (the Lua bitmap, on
 * every topology) and `stats-bloom-module.test.ts` (BF.*, on a server with a Bloom module).
 * `fpFloor`: the measured rate must pass the configured one divided by it (the filter is not
 * oversized by accident; RedisBloom sizes tighter than asked, ~0.5x, so it gets a lower floor).
 */
export function bloomContract(rk: () => Redkit, backend: 'lua' | 'server', { fpFloor }: { fpFloor: number }): void {
  const bloom = (name: string, expectedItems: number, falsePositiveRate: number) =>
    rk().bloom(name, { expectedItems, falsePositiveRate, backend })

  it('measured false-positive rate within 1.5x of the configured one, no false negatives', { timeout: 120_000 }, async () => {
    for (const rate of [0.01, 0.001]) {
      const filter = bloom(`fp-${rate}`, 20_000, rate)
      expect(await filter.backend()).toBe(backend)
      const items = Array.from({ length: 20_000 }, (_, i) => `user:${i}`)
      await filter.addMany(items)
      expect((await filter.mightContainMany(items)).every(Boolean)).toBe(true)
      const probes = 100_000
      const found = await filter.mightContainMany(Array.from({ length: probes }, (_, i) => `stranger:${i}`))
      const measured = found.filter(Boolean).length / probes
      expect(measured).toBeLessThanOrEqual(rate * 1.5)
      expect(measured).toBeGreaterThan(rate / fpFloor)
    }
  })

  // Review finding 10: small and low-rate filters measured up to 3.7x their rate (plain double hashing degenerates).
  it('small filters measure within 1.5x of their rate through Redis too', { timeout: 60_000 }, async () => {
    let hits = 0
    let probes = 0
    for (let f = 0; f < 5; f++) {
      const filter = bloom(`small-${f}`, 100, 0.01)
      const items = Array.from({ length: 100 }, (_, i) => `small:${f}:${i}`)
      expect((await filter.addMany(items)).filter(Boolean).length).toBeGreaterThan(95)
      expect((await filter.mightContainMany(items)).every(Boolean)).toBe(true)
      const found = await filter.mightContainMany(Array.from({ length: 20_000 }, (_, i) => `small-out:${f}:${i}`))
      hits += found.filter(Boolean).length
      probes += found.length
    }
    expect(hits / probes).toBeLessThanOrEqual(0.015)
    expect(hits / probes).toBeGreaterThan(0.01 / fpFloor)
  })

  // Review finding 11: lone surrogates all encode to U+FFFD, so they were one item; '' was accepted.
  it('empty, oversized and ill-formed items are refused and nothing is written; clear and destroy empty it', async () => {
    const filter = bloom('hostile-items', 1000, 1e-6)
    for (const bad of ['', '\uD800', 'a\uDC00', '\uDBFFx', 'x'.repeat(65_537)]) {
      expect(await errorCode(filter.add(bad)), JSON.stringify(bad.slice(0, 10))).toBe('E_INVALID_KEY')
      expect(await errorCode(filter.addMany(['fine', bad]))).toBe('E_INVALID_KEY')
      expect(await errorCode(filter.mightContain(bad))).toBe('E_INVALID_KEY')
    }
    expect(await filter.exists()).toBe(false)
    expect(await filter.add('\uD83D\uDE00')).toBe(true) // a surrogate pair is fine
    expect(await filter.add('\uD83D\uDE00')).toBe(false)
    expect(await filter.mightContain('\uD83D\uDE00')).toBe(true)
    expect(await filter.mightContain('\uFFFD')).toBe(false)
    await filter.clear()
    expect(await filter.exists()).toBe(false)
    expect(await filter.mightContain('\uD83D\uDE00')).toBe(false)
    await filter.add('y')
    await filter.destroy()
    expect(await filter.exists()).toBe(false)
  })
}
