import { describe, expect, it } from 'vitest'
import { guardCodec, jsonCodec } from '../../src/core/codec.js'
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
    expect(roundTrip([undefined, 1])).toEqual([null, 1])
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
