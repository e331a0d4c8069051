import { describe, expect, it } from 'vitest'
import { mapScriptError } from '../../src/core/scripts.js'
import { isRedkitError, parseScript } from '../../src/index.js'

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
})
