import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { aclRules, aclSetUserLine } from '../../src/core/acl.js'
import { thrownCode } from '../support/expect.js'

describe('aclRules', () => {
  it('grants the prefix’s keys and channels, the probe key and the expired-event channel, and named commands only', () => {
    const rules = aclRules({ prefix: 'shop' })
    expect(rules.slice(0, 6)).toEqual(['resetkeys', '~shop:*', '~__redkit:probe:*', 'resetchannels', '&shop:*', '&__keyevent@*__:expired'])
    expect(rules).toContain('-@all')
    expect(rules.indexOf('-@all')).toBeLessThan(rules.indexOf('+evalsha'))
    expect(rules.filter((r) => r.startsWith('+@'))).toEqual([])
    expect(rules).not.toContain('+config|set')
    expect(rules).not.toContain('+cluster|slots')
  })

  it('adds Cluster’s commands, CONFIG SET and literal patterns only when asked', () => {
    const rules = aclRules({ prefix: 'shop', cluster: true, configSet: true, patterns: ['shop:{room.*}:ch'] })
    for (const rule of ['+cluster|slots', '+cluster|myid', '+spublish', '+ssubscribe', '+sunsubscribe', '+config|set', '&shop:{room.*}:ch'])
      expect(rules).toContain(rule)
  })

  // Review 13 finding 15: a prefix with spaces wrote rules of its own into the line (a second password).
  it('refuses a prefix with whitespace, which would inject rules into the line', () => {
    for (const prefix of ['x >injected ~rk', 'a\tb', 'a\nb'])
      expect(() => aclSetUserLine('u', { prefix, password: 'pw' }), prefix).toThrow(expect.objectContaining({ code: 'E_INVALID_KEY' }))
  })

  it('escapes glob characters in the prefix, so it is matched as written', () => {
    expect(aclRules({ prefix: 'a*b' })[1]).toBe('~a\\*b:*')
  })

  it('refuses a bad prefix, options, patterns or user name with a typed error', () => {
    expect(thrownCode(() => aclRules({ prefix: 'a:b' }))).toBe('E_INVALID_KEY')
    expect(thrownCode(() => aclRules(null as never))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => aclRules({ patterns: ['has space'] }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => aclRules({ patterns: 'x' as never }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => aclSetUserLine('bad user'))).toBe('E_INVALID_ARGUMENT')
  })

  it('is the line docs/security.md prints, for standalone and for Cluster', () => {
    const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8')
    expect(doc).toContain(aclSetUserLine('redkit', { prefix: 'rk' }))
    expect(doc).toContain(aclSetUserLine('redkit', { prefix: 'rk', cluster: true }))
  })
})
