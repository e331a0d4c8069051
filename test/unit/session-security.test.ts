import { describe, expect, it } from 'vitest'
import { fingerprintOf, IdSigner, newCsrfToken, newSessionId, safeEqual } from '../../src/session/security.js'
import { thrownCode } from '../support/expect.js'

describe('session ids and tokens', () => {
  it('are 256 random bits in base64url, never repeated', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newSessionId()))
    expect(ids.size).toBe(10_000)
    for (const id of [...ids].slice(0, 100)) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(newCsrfToken()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(newCsrfToken()).not.toBe(newCsrfToken())
  })

  it('compares secrets by content only', () => {
    expect(safeEqual('abc', 'abc')).toBe(true)
    expect(safeEqual('abc', 'abd')).toBe(false)
    expect(safeEqual('abc', 'abcd')).toBe(false)
    expect(safeEqual('', '')).toBe(true)
  })
})

describe('IdSigner', () => {
  const signer = new IdSigner('a secret of enough length')

  it('signs and verifies; any change to the id or the mac is refused', () => {
    const signed = signer.sign('abc')
    expect(signed.startsWith('abc.')).toBe(true)
    expect(signer.unsign(signed)).toBe('abc')
    expect(signer.unsign(`abd${signed.slice(3)}`)).toBeUndefined()
    expect(signer.unsign(`${signed.slice(0, -1)}${signed.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined()
    expect(signer.unsign('abc')).toBeUndefined()
    expect(signer.unsign('.mac')).toBeUndefined()
    expect(signer.unsign('')).toBeUndefined()
  })

  it('rotates secrets: the first signs, every one verifies', () => {
    const old = new IdSigner('the old secret, long enough')
    const rotated = new IdSigner(['the new secret, long enough', 'the old secret, long enough'])
    expect(rotated.unsign(old.sign('id1'))).toBe('id1')
    expect(old.unsign(rotated.sign('id1'))).toBeUndefined()
    expect(new IdSigner('the new secret, long enough').unsign(rotated.sign('id1'))).toBe('id1')
  })

  it('refuses short or missing secrets', () => {
    expect(thrownCode(() => new IdSigner('short'))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => new IdSigner([]))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => new IdSigner([42 as unknown as string]))).toBe('E_INVALID_ARGUMENT')
  })
})

describe('fingerprintOf', () => {
  const chrome = { userAgent: 'Chrome/1', ip: '10.0.0.1' }

  it('is empty when binding is off', () => {
    expect(fingerprintOf(undefined, chrome)).toBe('')
    expect(fingerprintOf(false, chrome)).toBe('')
  })

  it('binds to the user agent by default, and to the ip only when asked', () => {
    const ua = fingerprintOf(true, chrome)
    expect(ua).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(ua).not.toContain('Chrome')
    expect(fingerprintOf('user-agent', { ...chrome, ip: '10.9.9.9' })).toBe(ua)
    expect(fingerprintOf(true, { ...chrome, userAgent: 'Firefox/1' })).not.toBe(ua)
    const both = fingerprintOf('user-agent+ip', chrome)
    expect(fingerprintOf('user-agent+ip', { ...chrome, ip: '10.9.9.9' })).not.toBe(both)
    expect(fingerprintOf((c) => c.ip ?? '', chrome)).toBe(fingerprintOf((c) => c.ip ?? '', { ip: '10.0.0.1' }))
  })

  it('rejects an unknown option', () => {
    expect(thrownCode(() => fingerprintOf('ip' as never, chrome))).toBe('E_INVALID_ARGUMENT')
  })
})
