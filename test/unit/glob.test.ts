import { describe, expect, it } from 'vitest'
import { compileGlob, isLiteralGlob } from '../../src/core/glob.js'
import { isRedkitError } from '../../src/index.js'

describe('glob', () => {
  const cases: Array<[string, string, boolean]> = [
    ['cache:*', 'cache:products:1', true],
    ['cache:*', 'cach:x', false],
    ['cache:products:?', 'cache:products:1', true],
    ['cache:products:?', 'cache:products:12', false],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['h[a-c]llo', 'hdllo', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
    ['(x)+', '(x)+', true],
    ['*', 'line\nbreak', true],
    ['device:*:hb', 'device:42:hb', true],
  ]
  it.each(cases)('%s ~ %s = %s', (pattern, text, expected) => {
    expect(compileGlob(pattern).test(text)).toBe(expected)
  })

  it('rejects invalid patterns with typed errors', () => {
    for (const [bad, code] of [
      ['', 'E_INVALID_KEY'],
      ['a[bc', 'E_INVALID_ARGUMENT'],
      ['a\\', 'E_INVALID_ARGUMENT'],
      ['a[]', 'E_INVALID_ARGUMENT'],
      ['bad\npattern', 'E_INVALID_KEY'],
      [42, 'E_INVALID_KEY'],
    ] as const) {
      let got: string | undefined
      try {
        compileGlob(bad)
      } catch (error) {
        got = isRedkitError(error) ? error.code : 'other'
      }
      expect(got, String(bad)).toBe(code)
    }
  })

  it('knows literal patterns', () => {
    expect(isLiteralGlob('a:b')).toBe(true)
    expect(isLiteralGlob('a:*')).toBe(false)
  })
})
