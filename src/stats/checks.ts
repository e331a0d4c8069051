import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateName, validateObjectName } from '../core/keys.js'
import { isTimeZone } from '../core/time-zone.js'

/** Longest stats object name: it is repeated in every key of the object. */
export const MAX_STATS_NAME_LENGTH = 200

/** Largest duration any stats option accepts: Node timers fire longer ones at once, and 2^31 - 1 ms is 24.8 days. */
export const MAX_DURATION_MS = 2 ** 31 - 1

function fail(what: string, rule: string, value: unknown): never {
  throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be ${rule}, got ${describe(value)}`)
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}

// With the u flag a surrogate pair is one code point, so this matches only lone surrogates.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

function rejectLoneSurrogates(text: string, what: string): void {
  if (LONE_SURROGATE.test(text))
    throw new RedkitError(
      ErrorCodes.E_INVALID_KEY,
      `${what} must be well-formed UTF-16 (no lone surrogates: two of them would share a key)`,
    )
}

/** A stats object name: a valid hash tag, well formed, at most 200 characters, and no ':' (it joins the name to the keys it counts). */
export function statsName(name: unknown, what: string): string {
  const valid = validateObjectName(name, what)
  rejectLoneSurrogates(valid, what)
  if (valid.length > MAX_STATS_NAME_LENGTH)
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} is ${valid.length} characters long; the limit is ${MAX_STATS_NAME_LENGTH}`)
  if (valid.includes(':')) throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not contain ':'`)
  return valid
}

/** A member or key given per call (a user id, an IP): non-empty, at most 1024 characters, well formed, no control characters. */
export function member(value: unknown, what: string): string {
  const valid = validateName(value, what)
  rejectLoneSurrogates(valid, what)
  return valid
}

/** An integer in [min, max]. */
export function integer(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(what, `an integer from ${min} to ${max}`, value)
  return value
}

/** A duration in ms: an integer from `min` to 2^31 - 1. */
export function duration(value: unknown, what: string, min = 1): number {
  return integer(value, what, min, MAX_DURATION_MS)
}

/** A point in time: a Date or epoch ms (finite, within years 1970-9999). */
export function instant(value: unknown, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_999)
    fail(what, 'a Date or epoch milliseconds from 1970 to 9999', value)
  return Math.floor(ms)
}

/** An options object (or undefined for the defaults). */
export function optionsObject<T extends object>(value: T | undefined | null, what: string): Partial<T> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(what, 'an options object', value)
  return value
}

export function oneOf<T extends string>(value: unknown, what: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) fail(what, `one of ${allowed.join(', ')}`, value)
  return value as T
}

/** An IANA time zone Intl knows. */
export function timeZone(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64 || !isTimeZone(value))
    fail(what, 'an IANA time zone name', value)
  return value
}
