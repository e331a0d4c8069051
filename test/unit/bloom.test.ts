import { describe, expect, it } from 'vitest'
import { bloomPositions, bloomSize, falsePositiveRateOf, murmur3 } from '../../src/stats/bloom-math.js'

describe('bloom sizing', () => {
  it('matches the textbook formulas', () => {
    // n = 1,000,000, p = 1%: m ≈ 9,585,059 bits (≈ 1.14 MiB), k = 7
    expect(bloomSize(1_000_000, 0.01)).toEqual({ bits: 9_585_059, hashes: 7 })
    expect(bloomSize(1000, 0.001).hashes).toBe(10)
    const size = bloomSize(10_000, 0.05)
    expect(falsePositiveRateOf(size, 10_000)).toBeGreaterThan(0.04)
    expect(falsePositiveRateOf(size, 10_000)).toBeLessThan(0.06)
  })

  it('rejects impossible sizes', () => {
    for (const [n, p] of [
      [0, 0.01],
      [1.5, 0.01],
      [100, 0],
      [100, 1],
      [100, Number.NaN],
      [1e12, 1e-9],
    ] as const)
      expect(() => bloomSize(n, p)).toThrow()
  })
})

describe('bloom hashing', () => {
  it('is MurmurHash3 x86_32', () => {
    const bytes = (s: string) => new TextEncoder().encode(s)
    // Reference values of MurmurHash3_x86_32.
    expect(murmur3(bytes(''), 0, 0)).toBe(0)
    expect(murmur3(bytes(''), 0, 1)).toBe(0x514e28b7)
    expect(murmur3(bytes('hello'), 5, 0)).toBe(0x248bfa47)
    expect(murmur3(bytes('Hello, world!'), 13, 1234)).toBe(0xfaf6cdb3)
  })

  it('gives k positions in range, stable per item', () => {
    const size = bloomSize(1000, 0.01)
    const a: number[] = []
    const b: number[] = []
    bloomPositions('user:42', size, a)
    bloomPositions('user:42', size, b)
    expect(a).toEqual(b)
    expect(a).toHaveLength(size.hashes)
    for (const p of a) expect(p >= 0 && p < size.bits && Number.isInteger(p)).toBe(true)
    const c: number[] = []
    bloomPositions('ünïcødé ✓', size, c)
    expect(new Set(c).size).toBeGreaterThan(1)
  })

  it('has about the designed false-positive rate (simulated bitmap)', () => {
    const size = bloomSize(5000, 0.01)
    const bits = new Uint8Array(Math.ceil(size.bits / 8))
    const positions: number[] = []
    for (let i = 0; i < 5000; i++) bloomPositions(`in-${i}`, size, positions)
    for (const p of positions) bits[p >> 3]! |= 1 << (p & 7)
    let falsePositives = 0
    for (let i = 0; i < 20_000; i++) {
      const probe: number[] = []
      bloomPositions(`out-${i}`, size, probe)
      if (probe.every((p) => (bits[p >> 3]! & (1 << (p & 7))) !== 0)) falsePositives++
    }
    expect(falsePositives / 20_000).toBeLessThan(0.02)
  })
})
