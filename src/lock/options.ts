import { type DurableOptions, validateDurable } from '../core/durability.js'
import { errors } from '../core/errors.js'
import { optionsObject, timerMs } from '../core/validate.js'
import type { AcquireOptions, LockOptions } from './types.js'

/** Defaults cited by the option types' TSDoc. */
export const DEFAULTS = {
  ttlMs: 30_000,
  watchdog: true,
  fair: true,
  pollMs: 1_000,
  timeoutMs: 10_000,
  /** A waiter's place in the queue lapses this many polls (at least 1 s) after its last attempt. */
  placePolls: 3,
  /** The local deadline ends this fraction of the TTL (plus 2 ms) early, for clock drift. */
  driftFactor: 0.01,
} as const

/**
 * The shortest TTL accepted: below it the local deadline (TTL minus the drift margin) leaves no
 * time at all, and a hold would be lost the moment it is granted (finding 5).
 */
export const MIN_TTL_MS = 10

/** A hold TTL: at least MIN_TTL_MS, at most what a Node timer honours. */
export function ttlOption(value: unknown, option = 'ttlMs'): number {
  const ttl = timerMs(value, option)
  if (ttl < MIN_TTL_MS) throw errors.invalidArgument(option, `at least ${MIN_TTL_MS} ms (the hold would lapse as it is granted)`, value)
  return ttl
}

export interface ResolvedLockOptions {
  ttlMs: number
  watchdog: boolean
  fair: boolean
  pollMs: number
  durable: DurableOptions | undefined
}

function flag(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw errors.invalidArgument(option, 'a boolean', value)
  return value
}

export function resolveLockOptions(input: LockOptions | undefined): ResolvedLockOptions {
  const options = optionsObject(input, 'lock options')
  return {
    ttlMs: ttlOption(options.ttlMs ?? DEFAULTS.ttlMs),
    watchdog: flag(options.watchdog, 'watchdog', DEFAULTS.watchdog),
    fair: flag(options.fair, 'fair', DEFAULTS.fair),
    pollMs: timerMs(options.pollMs ?? DEFAULTS.pollMs, 'pollMs'),
    durable: validateDurable(options.durable),
  }
}

export function resolveAcquire(input: AcquireOptions | undefined): { timeoutMs: number; signal: AbortSignal | undefined } {
  const options = optionsObject(input, 'acquire options')
  const timeoutMs = timerMs(options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs', { allowZero: true })
  const { signal } = options
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw errors.invalidArgument('signal', 'an AbortSignal')
  return { timeoutMs, signal }
}

/** The margin the local deadline keeps before the server-side expiry. */
export function marginMs(ttlMs: number, driftFactor: number = DEFAULTS.driftFactor): number {
  return Math.floor(ttlMs * driftFactor) + 2
}
