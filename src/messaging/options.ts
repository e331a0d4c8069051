import type { DurableOptions } from '../core/durability.js'

export { validateCount } from '../core/backoff.js'

import { backoffDelay, validateMs } from '../core/backoff.js'
import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'
import { validateName } from '../core/keys.js'

/** How long to wait before the next attempt of a failed job. */
export interface BackoffPolicy {
  /** @defaultValue 'exponential' */
  type?: 'fixed' | 'exponential'
  /** First delay (exponential) or every delay (fixed), ms. @defaultValue 1000 */
  delayMs?: number
  /** Upper bound of a delay, ms. @defaultValue 3_600_000 */
  maxDelayMs?: number
  /** Fraction of each delay randomised away (0..1), so retries of many jobs spread out. @defaultValue 0.2 */
  jitter?: number
}

/** Options of one job, given to `queue.add`. Unset fields fall back to the queue's `defaultJobOptions`, then the worker's. */
export interface JobOptions {
  /**
   * The job's name, so several kinds of job share one queue: a worker given a handler per name
   * (`rk.worker(queue, { email: ..., sms: ... })`) runs each job with its name's handler.
   * 1 to 256 characters. @defaultValue none
   */
  name?: string
  /**
   * Your id for the job: adding a job whose id already exists adds nothing (idempotent add), for as
   * long as the job's record is kept (see the worker's `keepCompleted`). @defaultValue a generated unique id
   */
  jobId?: string
  /** Start no sooner than this many ms from now. */
  delayMs?: number
  /** Start no sooner than this time (epoch ms or Date). Wins over `delayMs`. */
  runAt?: number | Date
  /**
   * 0 = none (default). Otherwise 1 (highest) .. 2,097,152 (lowest). Jobs without a priority are
   * taken before prioritized ones (the same convention as BullMQ).
   */
  priority?: number
  /** Deliveries before the job goes to the dead letters. @defaultValue the worker's `attempts` (3) */
  attempts?: number
  /** Delay before each retry; a number is a fixed delay in ms. @defaultValue the worker's `backoff` */
  backoff?: BackoffPolicy | number
}

export interface QueueOptions {
  /** Largest encoded payload accepted by `add`, bytes. @defaultValue 1_048_576 (1 MiB) */
  maxPayloadBytes?: number
  /** Defaults merged under each job's options. */
  defaultJobOptions?: Pick<JobOptions, 'attempts' | 'backoff' | 'priority'>
  /**
   * `add`/`addBulk` resolve only once this many replicas have the jobs (Redis `WAIT`), so a
   * failover right after cannot lose them; otherwise they fail with E_NOT_DURABLE (the jobs are
   * queued on the master). Costs a round trip to the replicas per call.
   */
  durable?: DurableOptions
}

export const MAX_PRIORITY = 2 ** 21
export const MAX_ATTEMPTS = 1_000_000
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576
export const DEFAULT_ATTEMPTS = 3
export const DEFAULT_BACKOFF: Required<BackoffPolicy> = { type: 'exponential', delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 }

/** The compact form stored in a job's `o` field. Only what differs from the defaults is stored. */
export interface StoredJobOptions {
  /** attempts */
  at?: number
  /** backoff: type 'f' | 'e', delay, max, jitter */
  bo?: { t: 'f' | 'e'; d: number; m?: number; j?: number }
  /** repeat: the schedule this job is an occurrence of */
  rp?: StoredRepeat
  /** name */
  nm?: string
}

/** A repeating schedule as carried by each of its occurrences (so a worker can add the next one). */
export interface StoredRepeat {
  /** schedule id */
  s: string
  /** version of the definition */
  v: string
  /** cron expression */
  c?: string
  /** time zone of the cron expression */
  z?: string
  /** interval, ms */
  e?: number
  /** phase of the interval: occurrences fall on startAt + k * every */
  sa?: number
  /** no occurrence after this time, ms */
  ea?: number
}

export function validateJobId(id: unknown): string {
  return validateName(id, 'jobId')
}

export const MAX_JOB_NAME_LENGTH = 256

export function validateJobName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_JOB_NAME_LENGTH) {
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `a job name must be a string of 1 to ${MAX_JOB_NAME_LENGTH} characters, got ${typeof name === 'string' ? `${name.length} characters` : typeof name}`,
    )
  }
  return name
}

export function validatePriority(priority: unknown): number {
  if (priority === undefined) return 0
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `priority must be an integer from 0 to ${MAX_PRIORITY}, got ${describeValue(priority)}`,
    )
  }
  return priority
}

export function validateAttempts(attempts: unknown, what = 'attempts'): number {
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `${what} must be an integer from 1 to ${MAX_ATTEMPTS}, got ${describeValue(attempts)}`,
    )
  }
  return attempts
}

/** Normalises a backoff option (a number is a fixed delay) and checks its ranges. */
export function normalizeBackoff(backoff: BackoffPolicy | number | undefined): Required<BackoffPolicy> | undefined {
  if (backoff === undefined) return undefined
  if (typeof backoff === 'number')
    return { ...DEFAULT_BACKOFF, type: 'fixed', delayMs: validateMs(backoff, 'backoff', { allowZero: true }), jitter: 0 }
  if (backoff === null || typeof backoff !== 'object') {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'backoff must be a number of ms or { type, delayMs, maxDelayMs, jitter }')
  }
  const type = backoff.type ?? DEFAULT_BACKOFF.type
  if (type !== 'fixed' && type !== 'exponential') {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `backoff.type must be 'fixed' or 'exponential', got ${describeValue(type)}`)
  }
  const policy = {
    type,
    delayMs: validateMs(backoff.delayMs ?? DEFAULT_BACKOFF.delayMs, 'backoff.delayMs', { allowZero: true }),
    maxDelayMs: validateMs(backoff.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs, 'backoff.maxDelayMs', { allowZero: true }),
    jitter: backoff.jitter ?? DEFAULT_BACKOFF.jitter,
  }
  if (typeof policy.jitter !== 'number' || !(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `backoff.jitter must be between 0 and 1, got ${describeValue(policy.jitter)}`)
  }
  return policy
}

/**
 * Checks options read back from a job's hash (planted or foreign data): attempts in range, a backoff
 * policy `add` could have stored, a string name, an object repeat. A worker would otherwise compute
 * retries from them and fail outside any handler. @throws RedkitError E_INVALID_ARGUMENT naming the field
 */
export function validateStoredOptions(value: Record<string, unknown>): StoredJobOptions {
  if (value.at !== undefined) validateAttempts(value.at, 'stored attempts')
  if (value.bo !== undefined) {
    const bo = value.bo as Record<string, unknown> | null
    if (bo === null || typeof bo !== 'object' || (bo.t !== 'f' && bo.t !== 'e'))
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'stored backoff must be { t: "f" | "e", d, m?, j? }')
    normalizeBackoff({ type: bo.t === 'f' ? 'fixed' : 'exponential', delayMs: bo.d, maxDelayMs: bo.m, jitter: bo.j } as BackoffPolicy)
  }
  if (value.nm !== undefined && typeof value.nm !== 'string')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'stored name must be a string')
  if (value.rp !== undefined && (value.rp === null || typeof value.rp !== 'object' || Array.isArray(value.rp)))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'stored repeat must be an object')
  return value as StoredJobOptions
}

export function storeBackoff(policy: Required<BackoffPolicy>): NonNullable<StoredJobOptions['bo']> {
  return { t: policy.type === 'fixed' ? 'f' : 'e', d: policy.delayMs, m: policy.maxDelayMs, j: policy.jitter }
}

export function loadBackoff(stored: StoredJobOptions['bo']): Required<BackoffPolicy> | undefined {
  if (!stored) return undefined
  return {
    type: stored.t === 'f' ? 'fixed' : 'exponential',
    delayMs: stored.d,
    maxDelayMs: stored.m ?? DEFAULT_BACKOFF.maxDelayMs,
    jitter: stored.j ?? DEFAULT_BACKOFF.jitter,
  }
}

/**
 * Delay before the retry that follows failed attempt number `attempt` (1-based): `delayMs` for a fixed
 * policy, `delayMs * 2^(attempt-1)` for an exponential one, capped at `maxDelayMs`, minus up to `jitter`.
 */
export function retryDelay(policy: Required<BackoffPolicy>, attempt: number, random: () => number = Math.random): number {
  return backoffDelay(attempt, policy, random)
}

/** Everything `add` needs about one job, validated. */
export interface PreparedJob {
  id: string
  unique: boolean
  data: string
  options: string
  priority: number
  /** epoch ms; 0 = ready now */
  dueAt: number
}

export function prepareJob(
  encoded: string,
  options: JobOptions | undefined,
  defaults: QueueOptions['defaultJobOptions'],
  now: number,
  newId: () => string,
  extra?: Pick<StoredJobOptions, 'rp'>,
): PreparedJob {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'job options must be an object')
  }
  const merged = { ...defaults, ...options }
  const stored: StoredJobOptions = {}
  if (merged.attempts !== undefined) stored.at = validateAttempts(merged.attempts)
  const backoff = normalizeBackoff(merged.backoff)
  if (backoff) stored.bo = storeBackoff(backoff)
  if (extra?.rp) stored.rp = extra.rp
  if (merged.name !== undefined) stored.nm = validateJobName(merged.name)
  const priority = validatePriority(merged.priority)
  let dueAt = 0
  if (merged.runAt !== undefined) {
    const at = merged.runAt instanceof Date ? merged.runAt.getTime() : merged.runAt
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) {
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `runAt must be a Date or epoch ms, got ${describeValue(merged.runAt)}`)
    }
    dueAt = at > now ? at : 0
  } else if (merged.delayMs !== undefined) {
    const delay = validateMs(merged.delayMs, 'delayMs', { allowZero: true })
    dueAt = delay > 0 ? now + delay : 0
  }
  const unique = merged.jobId !== undefined
  return {
    id: unique ? validateJobId(merged.jobId) : newId(),
    unique,
    data: encoded,
    options: JSON.stringify(stored),
    priority,
    dueAt,
  }
}

/** Checks a count option: a safe integer, positive (or non-negative with allowZero). */
