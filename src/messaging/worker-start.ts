import type { Codec } from '../core/codec.js'
import { ErrorCodes, isRedkitError, RedkitError } from '../core/errors.js'
import { parseStoredOptions } from './job.js'
import { type BackoffPolicy, loadBackoff, type StoredJobOptions } from './options.js'
import { ActiveJob } from './worker-job.js'

/** A job whose handler runs in this worker. */
export interface Running<T> {
  member: string
  job: ActiveJob<T>
  priority: number
  attempts: number
  backoff: Required<BackoffPolicy>
  /** The lease is gone: the outcome is dropped. */
  lost: boolean
  /** Given back on close: the outcome is dropped. */
  released: boolean
}

/** One leased job as `queue-next` replies it (8 values). */
export type LeasedFields = [
  member: string,
  id: string,
  data: string,
  options: string | null,
  attemptsMade: string | null,
  created: string | null,
  progress: string | null,
  priority: string | null,
]

export interface StartContext {
  queue: string
  codec: Codec
  defaultAttempts: number
  defaultBackoff: Required<BackoffPolicy>
  store: (member: string, id: string, progress: unknown) => Promise<boolean>
  /** The queue the job is in (its log and data). */
  actions: { log(id: string, line: string): Promise<number>; updateData(id: string, data: unknown): Promise<boolean> }
}

/**
 * Decodes a leased job into the entry its handler runs with. A job that cannot be decoded is bad
 * data no retry fixes: the caller dead-letters it with the returned reason.
 */
export function decodeLeased<T>(
  fields: LeasedFields,
  serverNow: number,
  c: StartContext,
): { entry: Running<T>; options: StoredJobOptions } | { failure: RedkitError; member: string; id: string; attemptsMade: number } {
  const [member, id, data, optionsText, made, created, progress, priorityText] = fields
  const attemptsMade = Number(made ?? 0) || 0
  let options: StoredJobOptions
  let decoded: T
  let storedProgress: unknown
  try {
    options = parseStoredOptions(optionsText, id)
    decoded = c.codec.decode(data) as T
    storedProgress = progress ? c.codec.decode(progress) : undefined
  } catch (error) {
    const failure = isRedkitError(error)
      ? error
      : new RedkitError(ErrorCodes.E_DECODE, `job ${id}: ${(error as Error).message}`, { cause: error })
    return { failure, member, id, attemptsMade }
  }
  const attempts = options.at ?? c.defaultAttempts
  const job = new ActiveJob<T>(
    {
      id,
      name: typeof options.nm === 'string' ? options.nm : undefined,
      queue: c.queue,
      data: decoded,
      attemptsMade,
      attempts,
      createdAt: Number(created ?? 0) || 0,
      startedAt: serverNow,
      progress: storedProgress,
    },
    {
      store: (value) => c.store(member, id, value),
      log: (line) => c.actions.log(id, line),
      update: (value) => c.actions.updateData(id, value),
    },
  )
  const entry: Running<T> = {
    member,
    job,
    priority: Number(priorityText ?? 0) || 0,
    attempts,
    backoff: loadBackoff(options.bo) ?? c.defaultBackoff,
    lost: false,
    released: false,
  }
  return { entry, options }
}
