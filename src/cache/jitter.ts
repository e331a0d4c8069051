import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'

/**
 * Avalanche protection: shortens a TTL by a random fraction of up to `fraction`, so keys written
 * together do not expire together. Never lengthens it; never returns less than 1 ms.
 */
export function jitterTtl(ttlMs: number, fraction: number, random: () => number = Math.random): number {
  if (fraction === 0) return ttlMs
  return Math.max(1, Math.round(ttlMs * (1 - fraction * random())))
}

/** Checks a jitter / refresh-ahead style fraction. */
export function validateFraction(value: unknown, what: string, { allowZero = true, allowOne = true } = {}): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > 1 ||
    (!allowZero && value === 0) ||
    (!allowOne && value === 1)
  ) {
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `${what} must be a number ${allowZero ? '>=' : '>'} 0 and ${allowOne ? '<=' : '<'} 1, got ${describeValue(value)}`,
    )
  }
  return value
}
