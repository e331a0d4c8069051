import { validateMs } from '../core/backoff.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { AcquireOptions, LockOptions } from './types.js'

/** Defaults cited by the option types' TSDoc. */
export const DEFAULTS = {
  ttlMs: 30_000,
  watchdog: true,
  fair: true,
  pollMs: 1_000,
  timeoutMs: 10_000,
  /** A waiter's place in the queue lapses this many polls after its last attempt. */
  placePolls: 3,
  /** The local deadline ends this fraction of the TTL (plus 2 ms) early, for clock drift. */
  driftFactor: 0.01,
} as const

/** setTimeout's limit: longer durations would fire at once. */
export const MAX_MS = 2 ** 31 - 1

export interface ResolvedLockOptions {
  ttlMs: number
  watchdog: boolean
  fair: boolean
  pollMs: number
}

export function validateDuration(value: unknown, what: string, allowZero = false): number {
  const ms = validateMs(value, what, { allowZero })
  if (ms > MAX_MS) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be at most ${MAX_MS} ms, got ${ms}`)
  return ms
}

function validateFlag(value: unknown, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be a boolean, got ${String(value)}`)
  return value
}

export function resolveLockOptions(options: LockOptions = {}): ResolvedLockOptions {
  if (typeof options !== 'object' || options === null)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'lock options must be an object')
  return {
    ttlMs: validateDuration(options.ttlMs ?? DEFAULTS.ttlMs, 'ttlMs'),
    watchdog: validateFlag(options.watchdog, 'watchdog', DEFAULTS.watchdog),
    fair: validateFlag(options.fair, 'fair', DEFAULTS.fair),
    pollMs: validateDuration(options.pollMs ?? DEFAULTS.pollMs, 'pollMs'),
  }
}

export function resolveAcquire(options: AcquireOptions = {}): { timeoutMs: number; signal: AbortSignal | undefined } {
  const timeoutMs = validateDuration(options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs', true)
  const { signal } = options
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'signal must be an AbortSignal')
  return { timeoutMs, signal }
}

/** The margin the local deadline keeps before the server-side expiry. */
export function marginMs(ttlMs: number): number {
  return Math.floor(ttlMs * DEFAULTS.driftFactor) + 2
}
