import { ErrorCodes, RedkitError } from './errors.js'

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

/** A sleep that an AbortSignal cuts short, and that never keeps the process alive by itself. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(done, ms)
    timer.unref()
    function done() {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    function onAbort() {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Checks a duration option: a finite, non-negative integer number of ms not beyond 2^53. */
export function validateMs(value: unknown, what: string, { allowZero = false } = {}): number {
  return checkInteger(value, what, allowZero, ' number of milliseconds')
}

/** Checks a count option (attempts, concurrency, batch sizes): a non-negative safe integer. */
export function validateCount(value: unknown, what: string, { allowZero = false } = {}): number {
  return checkInteger(value, what, allowZero, '')
}

function checkInteger(value: unknown, what: string, allowZero: boolean, unit: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer${unit}, got ${String(value)}`,
    )
  }
  return value
}
