import { ErrorCodes, RedkitError } from './errors.js'
import { count, durationMs, numberInRange, oneOf, optionsObject, timerMs } from './validate.js'

export interface BackoffOptions {
  /** @defaultValue 'exponential' */
  type?: 'fixed' | 'exponential'
  /** First delay in ms. @defaultValue 100 */
  delayMs?: number
  /** Upper bound of any delay in ms. @defaultValue 30_000 */
  maxDelayMs?: number
  /** Fraction of the delay randomised away (0..1), so many clients do not retry in lockstep. @defaultValue 0.2 */
  jitter?: number
}

/**
 * Checks a backoff policy where it is given, so a bad one fails the call that passes it rather than
 * the first retry, much later. `option` names it in the error (`'backoff'`).
 */
export function validateBackoff(options: BackoffOptions | undefined, option = 'backoff'): BackoffOptions | undefined {
  if (options === undefined) return undefined
  const given = optionsObject(options ?? null, option)
  if (given.type !== undefined) oneOf(given.type, `${option}.type`, ['fixed', 'exponential'] as const)
  if (given.delayMs !== undefined) timerMs(given.delayMs, `${option}.delayMs`, { allowZero: true })
  if (given.maxDelayMs !== undefined) timerMs(given.maxDelayMs, `${option}.maxDelayMs`, { allowZero: true })
  if (given.jitter !== undefined) numberInRange(given.jitter, `${option}.jitter`, 0, 1)
  return given
}

/** Delay before retry number `attempt` (1-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { type = 'exponential', delayMs = 100, maxDelayMs = 30_000, jitter = 0.2 } = options
  if (!(delayMs >= 0) || !(maxDelayMs >= 0) || !(jitter >= 0 && jitter <= 1)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'backoff needs delayMs >= 0, maxDelayMs >= 0 and 0 <= jitter <= 1')
  }
  const base = type === 'fixed' ? delayMs : delayMs * 2 ** Math.max(0, attempt - 1)
  const capped = Math.min(base, maxDelayMs)
  return Math.round(capped * (1 - jitter * random()))
}

/** @deprecated import `sleep` from core/clock.ts. */
export { sleep } from './clock.js'

/** @deprecated use `durationMs` / `timerMs` from core/validate.ts (this one is kept while modules migrate). */
export function validateMs(value: unknown, what: string, { allowZero = false } = {}): number {
  return durationMs(value, what, { allowZero })
}

/** @deprecated use `count` from core/validate.ts. */
export function validateCount(value: unknown, what: string, { allowZero = false } = {}): number {
  return count(value, what, { allowZero })
}
