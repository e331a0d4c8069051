import { describe, expect, it } from 'vitest'
import { defineKeyedScript, KeyedScript, loadScript, mapScriptError, parseScript } from '../../src/core/scripts.js'
import { isRedkitError } from '../../src/index.js'

const FIXTURES = new URL('../fixtures/lua/', import.meta.url)

const header = `--[[
  Sets a value.
  KEYS[1] the value key
  KEYS[2] the index key
  ARGV[1] the value
  Reply: 1 when written
]]
return 1`

describe('scripts', () => {
  it('reads the KEYS/ARGV contract from the header', () => {
    const source = parseScript('demo', header)
    expect(source.numKeys).toBe(2)
    expect(source.keyNames).toEqual(['the value key', 'the index key'])
    expect(source.argNames).toEqual(['the value'])
    expect(source.sha).toMatch(/^[0-9a-f]{40}$/)
  })

  it('rejects scripts without a complete header', () => {
    for (const body of ['return 1', '--[[ KEYS[1] k ]] return 1', '--[[\n KEYS[2] k\n Reply: x\n]]']) {
      let code: string | undefined
      try {
        parseScript('bad', body)
      } catch (error) {
        code = isRedkitError(error) ? error.code : 'other'
      }
      expect(code, body).toBe('E_SCRIPT')
    }
  })

  it('maps error replies carrying a redkit code to that code', () => {
    expect(mapScriptError('x', new Error('E_INVALID_ARGUMENT ttl must be positive')).code).toBe('E_INVALID_ARGUMENT')
    expect(mapScriptError('x', new Error('E_INVALID_ARGUMENT ttl must be positive')).message).toBe('ttl must be positive')
    expect(mapScriptError('x', new Error('ERR user_script:1: oops')).code).toBe('E_SCRIPT')
    expect(mapScriptError('x', new Error('E_NOT_A_CODE')).code).toBe('E_SCRIPT')
  })

  it('expands includes once each, following includes of includes', () => {
    const source = loadScript('test-include', FIXTURES)
    expect(source.includes).toEqual(['fixture-quad', 'fixture-double'])
    expect(source.body.match(/local function fixture_double/g)).toHaveLength(1)
    expect(source.body.indexOf('fixture_double(n)')).toBeLessThan(source.body.indexOf('fixture_quad(n)'))
    expect(source.body).not.toMatch(/@include/)
    // The SHA is the one of the expanded body: that is what Redis caches.
    expect(source.sha).toBe(parseScript('test-include', source.body).sha)
  })

  it('rejects a missing include and an include cycle', () => {
    const body = `${header.replace('return 1', '')}--- @include "nowhere"\nreturn 1`
    expect(() =>
      parseScript('x', body, () => {
        throw new Error('ENOENT')
      }),
    ).toThrow(/include nowhere not found/)
    const cyclic = (name: string) => (name === 'a' ? '--- @include "b"' : '--- @include "a"')
    expect(() => parseScript('x', `${header}\n--- @include "a"`, cyclic)).toThrow(/include cycle a -> b -> a/)
  })

  it('reads KEYS identifiers from the header and builds KEYS from a key object in that order', () => {
    const handle = defineKeyedScript<{ first: string; second: string; extra: string }, [n: number], number>('test-include', FIXTURES)
    expect(handle).toBeInstanceOf(KeyedScript)
    expect(handle.keyIds).toEqual(['first', 'second'])
    expect(handle.keys({ second: 'k2', extra: 'k3', first: 'k1' })).toEqual(['k1', 'k2'])
    expect(() => handle.keys({ first: 'k1' } as never)).toThrow(/has no key 'second'/)
    expect(parseScript('demo', header).keyIds).toEqual([undefined, undefined])
    expect(() => new KeyedScript(parseScript('demo', header))).toThrow(/KEYS\[1\] has no identifier/)
  })
})
