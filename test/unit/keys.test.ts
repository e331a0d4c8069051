import { describe, expect, it } from 'vitest'
import { hashSlot, KeySpace, MAX_NAME_LENGTH, validateName, validateObjectName } from '../../src/core/keys.js'
import { thrownCode } from '../support/expect.js'

describe('keys', () => {
  it('builds prefix:{object}:part keys with the object as hash tag', () => {
    const keys = new KeySpace('app')
    expect(keys.key('orders', 'jobs', 'waiting')).toBe('app:{orders}:jobs:waiting')
    expect(keys.key('orders')).toBe('app:{orders}')
    const q = keys.object('emails')
    expect(q('meta')).toBe('app:{emails}:meta')
    expect(hashSlot(q('a'))).toBe(hashSlot(q('b', 'c')))
    expect(hashSlot(keys.key('emails', 'x'))).toBe(hashSlot('emails'))
  })

  it('computes Cluster hash slots like Redis', () => {
    // Reference values from CLUSTER KEYSLOT on Redis 7.
    expect(hashSlot('foo')).toBe(12182)
    expect(hashSlot('bar')).toBe(5061)
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'))
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}')) // empty tag: whole key hashed
    expect(hashSlot('123456789')).toBe(12739)
  })

  it('rejects bad names with E_INVALID_KEY', () => {
    expect(thrownCode(() => validateName(''))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName(42))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName(null))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName(undefined))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName('a\nb'))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName('a\u0000b'))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName('tab\there'))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => validateName('x'.repeat(MAX_NAME_LENGTH + 1)))).toBe('E_INVALID_KEY')
    expect(validateName('x'.repeat(MAX_NAME_LENGTH))).toHaveLength(MAX_NAME_LENGTH)
    expect(validateName('cache:products:1')).toBe('cache:products:1')
    expect(validateName('ünïcødé 🙂')).toBe('ünïcødé 🙂')
    expect(thrownCode(() => validateObjectName('a{b}'))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => new KeySpace('a:b'))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => new KeySpace(''))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => new KeySpace('app').key('bad}name'))).toBe('E_INVALID_KEY')
  })

  it('builds SCAN patterns that escape glob characters', () => {
    const keys = new KeySpace('app')
    expect(keys.pattern()).toBe('app:{*')
    expect(keys.pattern('a*b')).toBe('app:{a\\*b}:*')
  })
})

describe('names with lone surrogates (issue 13)', () => {
  it('rejects a lone surrogate, which Redis would store as U+FFFD (two names, one key)', () => {
    for (const name of ['\uD800', '\uDBFF', 'a\uDC00b', 'x\uD83D']) {
      expect(
        thrownCode(() => validateName(name)),
        JSON.stringify(name),
      ).toBe('E_INVALID_KEY')
      expect(
        thrownCode(() => validateObjectName(name)),
        JSON.stringify(name),
      ).toBe('E_INVALID_KEY')
      expect(
        thrownCode(() => new KeySpace('p').key(name)),
        JSON.stringify(name),
      ).toBe('E_INVALID_KEY')
    }
    // A surrogate pair is well-formed.
    expect(validateName('emoji \uD83D\uDE00')).toBe('emoji \uD83D\uDE00')
  })
})
