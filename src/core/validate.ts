import { errors } from './errors.js'

/**
 * Option and argument validators. Each returns the checked value (typed) or throws RedkitError
 * E_INVALID_ARGUMENT whose message names the option and its unit: `option` is the name the user
 * wrote (`'writeBehind.batch'`), so they can find it.
 */

/** Longest delay a Node timer honours: beyond it `setTimeout` fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export interface IntegerOptions {
  /** Whether 0 is accepted. @defaultValue false */
  allowZero?: boolean
  /** Largest accepted value. @defaultValue Number.MAX_SAFE_INTEGER */
  max?: number
}

function integer(
  value: unknown,
  option: string,
  unit: string,
  { allowZero = false, max = Number.MAX_SAFE_INTEGER }: IntegerOptions,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || (!allowZero && value === 0) || value > max) {
    const bound = max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''
    throw errors.invalidArgument(option, `a ${allowZero ? 'non-negative' : 'positive'} integer${unit}${bound}`, value)
  }
  return value
}

/**
 * A duration in ms stored in Redis or compared with clocks (a TTL, a retention): any safe integer.
 * For a duration that arms a Node timer use `timerMs`.
 */
export function durationMs(value: unknown, option: string, options: IntegerOptions = {}): number {
  return integer(value, option, ' number of milliseconds', options)
}

/** A duration in ms that arms a Node timer: bounded to 2^31-1 so the timer never fires early. */
export function timerMs(value: unknown, option: string, options: IntegerOptions = {}): number {
  const max = Math.min(options.max ?? MAX_TIMER_MS, MAX_TIMER_MS)
  // A valid value goes back without the options copy below: hot paths validate per call (a lock's
  // acquire() its timeoutMs), and the copy was most of the cost.
  if (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value <= max &&
    (value > 0 || (value === 0 && options.allowZero === true))
  )
    return value
  return integer(value, option, ' number of milliseconds', { ...options, max })
}

/** A count (attempts, concurrency, batch sizes, limits). */
export function count(value: unknown, option: string, options: IntegerOptions = {}): number {
  return integer(value, option, '', options)
}

/** A size in bytes. */
export function byteSize(value: unknown, option: string, options: IntegerOptions = {}): number {
  return integer(value, option, ' number of bytes', options)
}

/** A positive safe integer (0 excluded). */
export function positiveInteger(value: unknown, option: string, max?: number): number {
  return integer(value, option, '', max === undefined ? {} : { max })
}

/** A finite number within `[min, max]` (fractions, rates, jitter). */
export function numberInRange(value: unknown, option: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw errors.invalidArgument(option, `a number from ${min} to ${max}`, value)
  }
  return value
}

/** One of the listed values. */
export function oneOf<const T extends readonly (string | number | boolean)[]>(value: unknown, option: string, allowed: T): T[number] {
  if (!allowed.includes(value as T[number])) {
    throw errors.invalidArgument(option, `one of ${allowed.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ')}`, value)
  }
  return value as T[number]
}

interface WellFormed {
  isWellFormed(): boolean
}

/** False for a string holding a lone UTF-16 surrogate (String.prototype.isWellFormed, Node 20; not in TS's ES2023 lib). */
export function isWellFormed(text: string): boolean {
  return (text as unknown as WellFormed).isWellFormed()
}

/**
 * A string that is valid Unicode (no lone surrogates, which Redis would store as replacement
 * bytes and hand back changed), optionally non-empty and bounded in length.
 */
export function wellFormedString(
  value: unknown,
  option: string,
  { allowEmpty = false, maxLength = Number.POSITIVE_INFINITY } = {},
): string {
  if (typeof value !== 'string') throw errors.invalidArgument(option, 'a string', value)
  if (!allowEmpty && value.length === 0) throw errors.invalidArgument(option, 'a non-empty string')
  if (value.length > maxLength) throw errors.invalidArgument(option, `at most ${maxLength} characters long`, value.length)
  if (!isWellFormed(value)) throw errors.invalidArgument(option, 'well-formed Unicode (it holds a lone surrogate)')
  return value
}

/**
 * An options object: `undefined` becomes `{}`; `null`, arrays and non-objects are rejected, so a
 * caller who passed a number where options go hears about it instead of getting the defaults.
 */
export function optionsObject<T extends object>(value: T | undefined, option = 'options'): T {
  if (value === undefined) return {} as T
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw errors.invalidArgument(option, 'an object', value)
  return value
}
