import { ErrorCodes, RedkitError } from '../core/errors.js'
import { timerMs } from '../core/validate.js'
import type { Job } from './job.js'
import {
  type BackoffPolicy,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF,
  normalizeBackoff,
  type QueueOptions,
  validateAttempts,
  validateCount,
} from './options.js'

export type JobHandler<T, R> = (job: Job<T>) => Promise<R> | R

/**
 * A handler per job name (`add(data, { name })`). A job whose name has no handler (or that has no
 * name) fails with E_INVALID_ARGUMENT, retried like any failure (a newer worker may know it).
 */
export type JobHandlers<T, R> = Readonly<Record<string, JobHandler<T, R>>>

/** One handler for every job, or one per job name, as a worker takes them. */
export function handlerOf<T, R>(handler: JobHandler<T, R> | JobHandlers<T, R>): JobHandler<T, R> {
  if (typeof handler === 'function') return handler
  if (handler === null || typeof handler !== 'object' || Array.isArray(handler))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'worker needs a handler function or an object of handlers by job name')
  const byName = new Map<string, JobHandler<T, R>>()
  for (const [name, fn] of Object.entries(handler)) {
    if (typeof fn !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `the handler for job name '${name}' is not a function`)
    byName.set(name, fn)
  }
  if (byName.size === 0) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'worker needs at least one handler')
  return (job) => {
    const fn = job.name === undefined ? undefined : byName.get(job.name)
    if (!fn) {
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        job.name === undefined
          ? `job ${job.id} has no name and this worker has handlers by name only`
          : `no handler for job name '${job.name}'`,
        { details: { id: job.id, name: job.name } },
      )
    }
    return fn(job)
  }
}

export interface WorkerOptions extends QueueOptions {
  /** Jobs run at the same time by this worker. @defaultValue 1 */
  concurrency?: number
  /**
   * Lease length: a job whose worker stops renewing its lease for this long (crash, stall, lost
   * connection) is delivered again. Leases are renewed every third of it while the handler runs.
   * @defaultValue 30_000
   */
  visibilityTimeoutMs?: number
  /** Deliveries per job before it is dead-lettered, for jobs added without `attempts`. @defaultValue 3 */
  attempts?: number
  /** Delay before a retry, for jobs added without `backoff`. @defaultValue exponential from 1000 ms, jitter 0.2 */
  backoff?: BackoffPolicy | number
  /**
   * Times a job's lease may expire (its worker died, stalled or lost its connection) before it is
   * dead-lettered with E_JOB_LOST. Stalls are counted apart from attempts: a handler that never
   * ran (a lost reply) costs no attempt. As BullMQ's `maxStalledCount`. @defaultValue 1
   */
  maxStalledCount?: number
  /**
   * Longest a handler may run: past it the job's signal is aborted and the delivery fails with
   * E_TIMEOUT (retried like any failure). Without it a handler that never settles keeps its lease
   * renewed, and its slot taken, for ever. @defaultValue none
   */
  jobTimeoutMs?: number
  /** Rate limit for the whole queue (all workers): at most `max` jobs started per `durationMs`. */
  limiter?: { max: number; durationMs: number }
  /** Completed jobs kept (with their result) for `getJob`: 0 deletes them at once, Infinity keeps all. @defaultValue 1000 */
  keepCompleted?: number
  /**
   * Retention of completed jobs (BullMQ's option; wins over `keepCompleted`): `true` deletes each at
   * once, `false` keeps all, a number keeps the newest N, `{ count, ageMs }` keeps the newest `count`
   * and none finished more than `ageMs` ago. For the whole queue (the worker trims it).
   * @defaultValue `{ count: 1000 }`
   */
  removeOnComplete?: boolean | number | KeepPolicy
  /**
   * Retention of dead letters, as `removeOnComplete` (`true`: deleted at the next trim, within
   * seconds). Bounded by default. @defaultValue `{ count: 10_000 }`
   */
  removeOnFail?: boolean | number | KeepPolicy
  /** How long `close()` waits for running handlers before it gives their jobs back. @defaultValue 10_000 */
  closeTimeoutMs?: number
  /** Longest single blocking wait of an idle worker: its whole cost while idle is one command per this. @defaultValue 5000 */
  idleBlockMs?: number
  /**
   * How often the worker beats in its queue's registry (`queue.workers()`); it is listed as gone
   * after 3 beats missed. @defaultValue 5000
   */
  heartbeatMs?: number
  /** Start at once; otherwise call `run()`. @defaultValue true */
  autostart?: boolean
}

/** How many finished jobs to keep, and for how long (the tighter bound wins). */
export interface KeepPolicy {
  /** The newest this many are kept. @defaultValue no bound */
  count?: number
  /** None finished more than this long ago (ms) is kept. @defaultValue no bound */
  ageMs?: number
}

/** Dead letters kept by default: bounded, so a poison stream cannot fill Redis. */
export const DEFAULT_KEEP_DEAD = 10_000

/** [count (-1 = all), age ms (-1 = no bound)] of a retention option. */
function keepOf(value: boolean | number | KeepPolicy, what: string): [count: number, ageMs: number] {
  if (value === true) return [0, -1]
  if (value === false || value === Number.POSITIVE_INFINITY) return [-1, -1]
  if (typeof value === 'number') return [validateCount(value, what, { allowZero: true }), -1]
  if (value === null || typeof value !== 'object')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be a boolean, a count or { count, ageMs }`)
  const count =
    value.count === undefined || value.count === Number.POSITIVE_INFINITY
      ? -1
      : validateCount(value.count, `${what}.count`, { allowZero: true })
  const ageMs = value.ageMs === undefined ? -1 : timerMs(value.ageMs, `${what}.ageMs`)
  return [count, ageMs]
}

export interface WorkerEvents<T, R> {
  /** A delivery started. */
  active: [job: Job<T>]
  /** The job's result was stored (its lease was still held). */
  completed: [job: Job<T>, result: R]
  /** A delivery failed and the job will run again after `retryInMs`. */
  failed: [job: Job<T>, error: Error, retryInMs: number]
  /** The job went to the dead letters: attempts used up, unrecoverable error, or a payload that cannot be decoded. */
  dead: [id: string, error: Error, job: Job<T> | undefined]
  /** This worker lost the job's lease (it ran past its visibility timeout): its result was not stored. */
  lost: [job: Job<T>]
  /** Jobs of dead or stalled workers this worker put back in the queue. */
  recovered: [count: number]
  /** The queue has nothing ready for this worker. */
  drained: []
  /** A Redis or handler-infrastructure error; the worker keeps going. Only emitted when listened to. */
  error: [RedkitError]
  closed: []
}

/** Worker options with their defaults applied, validated. */
export interface ResolvedWorkerOptions {
  concurrency: number
  leaseMs: number
  attempts: number
  backoff: Required<BackoffPolicy>
  limiter: { max: number; durationMs: number } | undefined
  /** -1 keeps all, 0 deletes at once, else the newest K */
  keep: number
  /** completed jobs older than this are deleted (-1 = no bound) */
  completedAgeMs: number
  /** dead letters kept: -1 all, else the newest K */
  deadKeep: number
  /** dead letters older than this are deleted (-1 = no bound) */
  deadAgeMs: number
  closeTimeoutMs: number
  idleBlockMs: number
  maxStalledCount: number
  jobTimeoutMs: number | undefined
  heartbeatMs: number
}

/** Applies defaults and validates. @throws RedkitError E_INVALID_ARGUMENT */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  const concurrency = validateCount(options.concurrency ?? 1, 'concurrency')
  if (concurrency > 1000) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'concurrency must be at most 1000')
  const leaseMs = timerMs(options.visibilityTimeoutMs ?? 30_000, 'visibilityTimeoutMs')
  if (leaseMs < 100) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'visibilityTimeoutMs must be at least 100')
  const limiter =
    options.limiter === undefined
      ? undefined
      : {
          max: validateCount(options.limiter?.max, 'limiter.max'),
          durationMs: timerMs(options.limiter?.durationMs, 'limiter.durationMs'),
        }
  const keep = options.keepCompleted ?? 1000
  const [completedKeep, completedAgeMs] =
    options.removeOnComplete === undefined
      ? [keep === Number.POSITIVE_INFINITY ? -1 : validateCount(keep, 'keepCompleted', { allowZero: true }), -1]
      : keepOf(options.removeOnComplete, 'removeOnComplete')
  const [deadKeep, deadAgeMs] = keepOf(options.removeOnFail ?? { count: DEFAULT_KEEP_DEAD }, 'removeOnFail')
  return {
    concurrency,
    leaseMs,
    attempts: validateAttempts(options.attempts ?? DEFAULT_ATTEMPTS),
    backoff: normalizeBackoff(options.backoff) ?? DEFAULT_BACKOFF,
    limiter,
    keep: completedKeep,
    completedAgeMs,
    deadKeep,
    deadAgeMs,
    closeTimeoutMs: timerMs(options.closeTimeoutMs ?? 10_000, 'closeTimeoutMs', { allowZero: true }),
    idleBlockMs: timerMs(options.idleBlockMs ?? 5000, 'idleBlockMs'),
    maxStalledCount: validateCount(options.maxStalledCount ?? 1, 'maxStalledCount', { allowZero: true }),
    jobTimeoutMs: options.jobTimeoutMs === undefined ? undefined : timerMs(options.jobTimeoutMs, 'jobTimeoutMs'),
    heartbeatMs: heartbeatMsOf(options.heartbeatMs),
  }
}

function heartbeatMsOf(value: number | undefined): number {
  const ms = timerMs(value ?? 5000, 'heartbeatMs')
  if (ms < 50) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'heartbeatMs must be at least 50')
  return ms
}
