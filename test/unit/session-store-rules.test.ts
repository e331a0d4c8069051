import { describe, expect, it } from 'vitest'
import { type FrameworkSession, resolveStoreOptions, type SessionStoreOptions } from '../../src/session/store-options.js'
import { StoreRules, TOMBSTONE_LEAST_MS } from '../../src/session/store-rules.js'
import { thrownCode } from '../support/expect.js'

const data = (a: string): FrameworkSession => ({ a }) as FrameworkSession
const rules = (options: Omit<SessionStoreOptions, 'redkit'> = {}) =>
  new StoreRules(resolveStoreOptions({ redkit: { connection: {} } as never, ...options }))

describe('session store rules', () => {
  it('takes the TTL from the cookie (a Date or its JSON string), else ttlMs; an expired cookie is negative', () => {
    const r = rules({ ttlMs: 5000 })
    const inAMinute = Date.now() + 60_000
    expect(r.ttlOf({ cookie: { expires: new Date(inAMinute) } })).toBeGreaterThan(59_000)
    expect(r.ttlOf({ cookie: { expires: new Date(inAMinute).toISOString() } })).toBeGreaterThan(59_000)
    expect(r.ttlOf({ cookie: { expires: new Date(inAMinute) } })).toBeLessThanOrEqual(60_000)
    expect(r.ttlOf({ cookie: { maxAge: 1234.5 } })).toBe(1235)
    expect(r.ttlOf({})).toBe(5000)
    expect(r.ttlOf({ cookie: { expires: new Date(Date.now() - 1) } })).toBe(-1)
    expect(r.ttlOf({ cookie: { expires: 'not a date' } })).toBe(5000)
    expect(rules({ disableTTL: true }).ttlOf({ cookie: { maxAge: 10 } })).toBe(0)
    expect(rules({ ttlMs: () => 42.2 }).ttlOf({})).toBe(43)
    expect(thrownCode(() => rules({ ttlMs: () => Number.NaN }).ttlOf({}))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => r.ttlOf(null as never))).toBe('E_INVALID_ARGUMENT')
  })

  it('counts UTF-8 bytes against maxDataBytes only when the text could exceed it', () => {
    const r = rules({ maxDataBytes: 20 })
    expect(r.serialize('sid', data('abc'))).toBe('{"a":"abc"}')
    // 11 characters, 14 bytes: fits (33 could exceed 20, so they are counted). 16 characters, 24 bytes: does not.
    expect(r.serialize('sid', data('ééé'))).toBe('{"a":"ééé"}')
    expect(thrownCode(() => r.serialize('sid', data('éééééééé')))).toBe('E_TOO_LARGE')
    expect(thrownCode(() => r.serialize('sid', data('x'.repeat(30))))).toBe('E_TOO_LARGE')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(thrownCode(() => r.serialize('sid', cyclic))).toBe('E_ENCODE')
  })

  it('reads owners (numeric ids as text; unreadable text owns nothing) and sizes tombstones and indexes', () => {
    const r = rules({ userIdOf: (s) => s.uid as number | undefined, ttlMs: 1000 })
    expect(r.ownerOf({ uid: 42 })).toBe('42')
    expect(r.ownerOf({})).toBe('')
    expect(r.ownerIn('{"uid":7}')).toBe('7')
    expect(r.ownerIn('not json')).toBe('')
    expect(r.tombstoneMs()).toBe(TOMBSTONE_LEAST_MS)
    expect(rules({ absoluteTimeoutMs: 3_600_000 }).tombstoneMs()).toBe(3_600_000)
    expect(r.indexDeadline(0)).toBe(0)
    expect(r.indexDeadline(1000)).toBeGreaterThan(Date.now() + 60_000)
  })
})
