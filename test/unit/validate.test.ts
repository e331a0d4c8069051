import { describe, expect, it } from 'vitest'
import { ErrorCodes, errors, isRedkitError } from '../../src/core/errors.js'
import * as validate from '../../src/core/validate.js'

function messageOf(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(isRedkitError(error, ErrorCodes.E_INVALID_ARGUMENT), String(error)).toBe(true)
    return (error as Error).message
  }
  throw new Error('expected a throw')
}

describe('validators', () => {
  it('names the option and the unit', () => {
    expect(messageOf(() => validate.durationMs(-1, 'ttlMs'))).toBe('ttlMs must be a positive integer number of milliseconds, got -1')
    expect(messageOf(() => validate.byteSize(0, 'maxValueBytes'))).toBe('maxValueBytes must be a positive integer number of bytes, got 0')
    expect(messageOf(() => validate.count(1.5, 'writeBehind.batch'))).toBe('writeBehind.batch must be a positive integer, got 1.5')
    expect(messageOf(() => validate.count('3', 'limit', { allowZero: true }))).toBe("limit must be a non-negative integer, got '3'")
  })

  it('bounds timer durations to 2^31-1 ms so Node timers never fire early', () => {
    expect(validate.timerMs(validate.MAX_TIMER_MS, 'idleBlockMs')).toBe(2 ** 31 - 1)
    expect(messageOf(() => validate.timerMs(2 ** 31, 'idleBlockMs'))).toBe(
      `idleBlockMs must be a positive integer number of milliseconds up to ${2 ** 31 - 1}, got ${2 ** 31}`,
    )
    // A stored duration (a TTL of 30 days) is not a timer.
    expect(validate.durationMs(30 * 86_400_000, 'ttlMs')).toBe(2_592_000_000)
  })

  it('accepts zero only when asked, and respects max', () => {
    expect(validate.durationMs(0, 'x', { allowZero: true })).toBe(0)
    expect(() => validate.durationMs(0, 'x')).toThrow()
    expect(validate.count(10, 'n', { max: 10 })).toBe(10)
    expect(messageOf(() => validate.count(11, 'n', { max: 10 }))).toBe('n must be a positive integer up to 10, got 11')
    expect(validate.positiveInteger(3, 'permits')).toBe(3)
    expect(() => validate.positiveInteger(Number.NaN, 'permits')).toThrow(/permits must be a positive integer, got NaN/)
    expect(() => validate.durationMs(2 ** 53, 'x')).toThrow()
  })

  it('checks ranges and enums', () => {
    expect(validate.numberInRange(0.5, 'jitter', 0, 1)).toBe(0.5)
    expect(messageOf(() => validate.numberInRange(2, 'jitter', 0, 1))).toBe('jitter must be a number from 0 to 1, got 2')
    expect(validate.oneOf('through', 'write', ['around', 'through', 'behind'] as const)).toBe('through')
    expect(messageOf(() => validate.oneOf('sideways', 'write', ['around', 'through'] as const))).toBe(
      "write must be one of 'around', 'through', got 'sideways'",
    )
  })

  it('accepts only well-formed strings', () => {
    expect(validate.wellFormedString('héllo 👋', 'name')).toBe('héllo 👋')
    expect(messageOf(() => validate.wellFormedString('bad \ud800 half', 'name'))).toBe(
      'name must be well-formed Unicode (it holds a lone surrogate)',
    )
    expect(messageOf(() => validate.wellFormedString('', 'name'))).toBe('name must be a non-empty string')
    expect(validate.wellFormedString('', 'name', { allowEmpty: true })).toBe('')
    expect(messageOf(() => validate.wellFormedString(42, 'name'))).toBe('name must be a string, got 42')
    expect(messageOf(() => validate.wellFormedString('abcd', 'name', { maxLength: 3 }))).toBe(
      'name must be at most 3 characters long, got 4',
    )
  })

  it('rejects options that are not an object', () => {
    expect(validate.optionsObject(undefined)).toEqual({})
    const given = { ttlMs: 1 }
    expect(validate.optionsObject(given)).toBe(given)
    for (const bad of [null, 5, 'x', [1], () => {}]) {
      expect(messageOf(() => validate.optionsObject(bad as never, 'cache options'))).toMatch(/^cache options must be an object, got /)
    }
  })
})

describe('error factories', () => {
  it('give one message shape per code, with details', () => {
    const invalid = errors.invalidArgument('permits', 'a positive integer', 0)
    expect([invalid.code, invalid.message, invalid.details]).toEqual([
      ErrorCodes.E_INVALID_ARGUMENT,
      'permits must be a positive integer, got 0',
      { option: 'permits' },
    ])
    expect(errors.invalidArgument('options', 'an object').message).toBe('options must be an object')
    expect(errors.invalidArgument('x', 'y', undefined).message).toBe('x must be y, got undefined')
    expect(errors.closed('cache users').message).toBe('cache users is closed')
    expect(errors.closed('worker w', 'job 1 was given back').message).toBe('worker w is closed: job 1 was given back')
    const timeout = errors.timeout("cache users: loader for 'k'", 100)
    expect([timeout.code, timeout.message, timeout.details]).toEqual([
      ErrorCodes.E_TIMEOUT,
      "cache users: loader for 'k' did not finish within 100 ms",
      { timeoutMs: 100 },
    ])
    expect(errors.tooLarge('value of k', 10, 5).code).toBe(ErrorCodes.E_TOO_LARGE)
    expect(
      errors.serverConfig('keyspace events are off', 'run CONFIG SET notify-keyspace-events Ex', 'notify-keyspace-events').details,
    ).toEqual({
      setting: 'notify-keyspace-events',
    })
    expect(errors.decode('job 7').code).toBe(ErrorCodes.E_DECODE)
    expect(errors.invalidKey('queue name', 'is empty').code).toBe(ErrorCodes.E_INVALID_KEY)
  })
})
