import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { guardCodec, jsonCodec, MAX_DEPTH } from '../../src/core/codec.js'
import { thrownCode } from '../support/expect.js'

function roundTrip(value: unknown): unknown {
  return jsonCodec.decode(jsonCodec.encode(value))
}

describe('jsonCodec', () => {
  it('round-trips JSON values, Date, BigInt and undefined', () => {
    const date = new Date('2026-11-22T03:00:00.123Z')
    const value = { a: 1, s: 'x', n: null, b: false, list: [1, 'two', date], when: date, big: 2n ** 70n, nested: { d: date } }
    const back = roundTrip(value) as typeof value
    expect(back).toEqual(value)
    expect(back.when).toBeInstanceOf(Date)
    expect(back.when.getTime()).toBe(date.getTime())
    expect(typeof back.big).toBe('bigint')
    expect(roundTrip(undefined)).toBeUndefined()
    expect(roundTrip(0)).toBe(0)
    expect(roundTrip('')).toBe('')
    expect(roundTrip(-5n)).toBe(-5n)
    expect(roundTrip([undefined, 1])).toStrictEqual([undefined, 1])
  })

  it('keeps user objects that look like redkit tags intact', () => {
    const tricky = { '$rk:date': 'not a date' }
    expect(roundTrip(tricky)).toEqual(tricky)
    const nested = { a: { '$rk:object': { '$rk:bigint': '1' } } }
    expect(roundTrip(nested)).toEqual(nested)
  })

  it('rejects values JSON would alter, with E_ENCODE', () => {
    expect(thrownCode(() => jsonCodec.encode(Number.NaN))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode({ x: Number.POSITIVE_INFINITY }))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode(() => 1))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode({ s: Symbol('x') }))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode(new Map()))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode({ set: new Set([1]) }))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode(new Date(Number.NaN)))).toBe('E_ENCODE')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(thrownCode(() => jsonCodec.encode(cyclic))).toBe('E_ENCODE')
    // The same object twice is not a cycle.
    const shared = { x: 1 }
    expect(roundTrip({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } })
  })

  it('raises E_DECODE for text it did not write', () => {
    expect(thrownCode(() => jsonCodec.decode('{not json'))).toBe('E_DECODE')
    expect(thrownCode(() => jsonCodec.decode('{"$rk:date": 5}'))).toBe('E_DECODE')
    expect(thrownCode(() => jsonCodec.decode(''))).toBe('E_DECODE')
  })

  it('wraps a user codec so its failures carry codes', () => {
    const broken = guardCodec({
      name: 'broken',
      encode: () => {
        throw new Error('nope')
      },
      decode: () => {
        throw new Error('nope')
      },
    })
    expect(thrownCode(() => broken.encode(1))).toBe('E_ENCODE')
    expect(thrownCode(() => broken.decode('1'))).toBe('E_DECODE')
    const notString = guardCodec({ name: 'num', encode: () => 5 as unknown as string, decode: (t) => t })
    expect(thrownCode(() => notString.encode(1))).toBe('E_ENCODE')
  })
})

describe('jsonCodec against hostile and unusual values (issue 13)', () => {
  it('round-trips -0', () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true)
    expect(Object.is((roundTrip({ x: [-0] }) as { x: number[] }).x[0], -0)).toBe(true)
  })

  it('keeps an own __proto__ key on encode, as an own key on decode', () => {
    const value = JSON.parse('{"__proto__":{"isAdmin":true},"a":1}') as Record<string, unknown>
    const back = roundTrip(value) as Record<string, unknown>
    expect(Object.keys(back)).toEqual(['__proto__', 'a'])
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ isAdmin: true })
  })

  it('never lets foreign JSON set a prototype when decoding', () => {
    for (const text of [
      '{"__proto__":{"isAdmin":true}}',
      '{"a":{"__proto__":{"isAdmin":true}}}',
      '[{"__proto__":{"isAdmin":true}}]',
      '{"$rk:object":{"__proto__":{"isAdmin":true}}}',
    ]) {
      const decoded = jsonCodec.decode(text) as Record<string, unknown>
      const objects = [decoded, decoded.a, (decoded as unknown as unknown[])[0]].filter((o) => o && typeof o === 'object')
      for (const o of objects) {
        expect((o as { isAdmin?: unknown }).isAdmin).toBeUndefined()
        expect([Object.prototype, Array.prototype]).toContain(Object.getPrototypeOf(o))
      }
    }
    expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined()
  })

  it('rejects holes, but round-trips undefined array items', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    expect(thrownCode(() => jsonCodec.encode([1, , 3]))).toBe('E_ENCODE')
    expect(thrownCode(() => jsonCodec.encode(new Array(3)))).toBe('E_ENCODE')
    expect(roundTrip([1, undefined, 3])).toStrictEqual([1, undefined, 3])
  })

  it('refuses a 10,000-deep value with E_ENCODE and a 10,000-deep text with E_DECODE, not a RangeError', () => {
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = { d: deep }
    expect(thrownCode(() => jsonCodec.encode(deep))).toBe('E_ENCODE')
    let deepArray: unknown = []
    for (let i = 0; i < 10_000; i++) deepArray = [deepArray]
    expect(thrownCode(() => jsonCodec.encode(deepArray))).toBe('E_ENCODE')
    const text = `${'['.repeat(10_000)}${']'.repeat(10_000)}`
    const code = thrownCode(() => jsonCodec.decode(text))
    expect(code === undefined || code === 'E_DECODE').toBe(true)
  })

  it('property: any value either round-trips exactly or is refused with E_ENCODE', () => {
    const values = fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withSparseArray: true,
      withObjectString: true,
      withTypedArray: true,
      withBoxedValues: true,
      withUnicodeString: true,
      key: fc.oneof(fc.string(), fc.constantFrom('__proto__', '$rk:date', '$rk:object', '$rk:-0', 'constructor')),
      values: [fc.double(), fc.constantFrom(-0, 0, undefined, null), fc.string()],
    })
    fc.assert(
      fc.property(values, (value) => {
        let text: string
        try {
          text = jsonCodec.encode(value)
        } catch (error) {
          expect(
            thrownCode(() => {
              throw error
            }),
          ).toBe('E_ENCODE')
          return
        }
        expect(jsonCodec.decode(text)).toEqual(value)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('jsonCodec read side: stored text encode could not have written is E_DECODE (review finding 10)', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 1
    for (let i = 0; i < levels; i++) value = { v: value }
    return value
  }
  it('refuses numbers JSON reads as Infinity, invalid dates, bad bigints and nesting past MAX_DEPTH', () => {
    for (const text of ['1e400', '[-1e400]', '{"a":1e309}', '{"$rk:date":"garbage"}', '{"$rk:bigint":"1.5"}', JSON.stringify(nest(300))]) {
      expect(
        thrownCode(() => jsonCodec.decode(text)),
        text.slice(0, 40),
      ).toBe('E_DECODE')
    }
  })
  it('still reads everything encode writes, up to the deepest value it accepts', () => {
    expect(jsonCodec.decode(jsonCodec.encode(nest(MAX_DEPTH - 1)))).toEqual(nest(MAX_DEPTH - 1))
    const deepest = (() => {
      for (let levels = MAX_DEPTH + 2; levels > 0; levels--) {
        try {
          return { levels, text: jsonCodec.encode(nest(levels)) }
        } catch {}
      }
      throw new Error('nothing encodes')
    })()
    expect(jsonCodec.decode(deepest.text)).toEqual(nest(deepest.levels))
    expect(jsonCodec.decode(jsonCodec.encode({ '$rk:date': 1, when: new Date(0) }))).toEqual({ '$rk:date': 1, when: new Date(0) })
  })
})
