import type { Codec } from '../core/codec.js'
import { ErrorCodes, RedkitError, thrownText } from '../core/errors.js'
import { type StoredJobOptions, validateStoredOptions } from './options.js'

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'dead'

/** The last error of a job, as stored with it (dead letters keep it). */
export interface JobError {
  message: string
  /** RedkitError code, or the `code` of the thrown error when it had a string one. */
  code?: string
  name?: string
  stack?: string
}

/** A snapshot of a job as stored in Redis (`queue.getJob`). */
export interface JobInfo<T = unknown, R = unknown> {
  id: string
  /** The job's name (`add(data, { name })`), if it has one. */
  name: string | undefined
  state: JobState
  data: T
  /** Failed deliveries so far (stalls are counted apart, in `stalledCount`). */
  attemptsMade: number
  /** Times its lease expired (worker died, stalled or lost its connection); see the worker's `maxStalledCount`. */
  stalledCount: number
  /** The job's own attempts option, when it was set at add time. */
  attempts: number | undefined
  priority: number
  /** When it was added (epoch ms). */
  createdAt: number
  /** When its last delivery started (epoch ms, server clock), once it has run. */
  startedAt: number | undefined
  /** When it completed or was dead-lettered (epoch ms, server clock). */
  finishedAt: number | undefined
  /** The last progress its handler reported. */
  progress: unknown
  /** What its handler returned (completed jobs). */
  result: R | undefined
  /** Its last error (failed attempts, dead letters). */
  error: JobError | undefined
  /** The repeating schedule it is an occurrence of. */
  scheduleId: string | undefined
}

/** The job a handler receives. */
export interface Job<T = unknown> {
  readonly id: string
  /** The job's name (`add(data, { name })`), if it has one. */
  readonly name: string | undefined
  readonly queue: string
  readonly data: T
  /** Deliveries of this job that failed before this one (a lost lease is a stall, not an attempt). */
  readonly attemptsMade: number
  /** Deliveries allowed in all. */
  readonly attempts: number
  readonly createdAt: number
  /** Start of this delivery (epoch ms, server clock). */
  readonly startedAt: number
  /** The progress stored by a previous delivery, if any. */
  readonly progress: unknown
  /** Aborted when this worker lost the job's lease (another delivery owns the job now) or is closing. */
  readonly signal: AbortSignal
  /**
   * Stores the job's progress (any codec-encodable value).
   * @throws RedkitError E_JOB_LOST when this worker no longer holds the job's lease.
   */
  updateProgress(progress: unknown): Promise<void>
  /** Appends a line to the job's log (`queue.getLogs(id)`); resolves the lines logged so far. */
  log(line: string): Promise<number>
  /** Replaces the job's stored data (a retry runs with it) and `job.data`. @throws RedkitError E_ENCODE, E_TOO_LARGE */
  updateData(data: T): Promise<void>
}

export function decodeOptional(codec: Codec, text: string | undefined): unknown {
  return text === undefined || text === '' ? undefined : codec.decode(text)
}

/** Parses the stored options JSON of a job; malformed JSON is E_DECODE. */
export function parseStoredOptions(text: string | null | undefined, id: string): StoredJobOptions {
  if (!text) return {}
  try {
    const value = JSON.parse(text) as unknown
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object')
    return validateStoredOptions(value as Record<string, unknown>)
  } catch (error) {
    throw new RedkitError(ErrorCodes.E_DECODE, `job ${id}: stored options are not valid (${(error as Error).message})`, {
      cause: error,
      details: { id },
    })
  }
}

function parseError(message: string | undefined, details: string | undefined): JobError | undefined {
  if (message === undefined) return undefined
  const error: JobError = { message }
  if (details) {
    try {
      const parsed = JSON.parse(details) as { code?: unknown; name?: unknown; stack?: unknown }
      if (typeof parsed.code === 'string') error.code = parsed.code
      if (typeof parsed.name === 'string') error.name = parsed.name
      if (typeof parsed.stack === 'string') error.stack = parsed.stack
    } catch {
      // details are informative only
    }
  }
  return error
}

function toNumber(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined
  const value = Number(text)
  return Number.isFinite(value) ? value : undefined
}

/** Builds a JobInfo from the `queue-get` reply. @throws RedkitError E_DECODE when the stored job is malformed. */
export function parseJobInfo<T, R>(codec: Codec, id: string, state: string, flat: string[]): JobInfo<T, R> {
  const f: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i] as string] = flat[i + 1] as string
  const options = parseStoredOptions(f.o, id)
  let data: T
  try {
    // A dead letter for a record that vanished (evicted, deleted) has no data left.
    data = (f.d === undefined ? undefined : codec.decode(f.d)) as T
  } catch (error) {
    throw new RedkitError(ErrorCodes.E_DECODE, `job ${id}: stored data cannot be decoded`, { cause: error, details: { id } })
  }
  return {
    id,
    name: typeof options.nm === 'string' ? options.nm : undefined,
    state: state as JobState,
    data,
    attemptsMade: toNumber(f.a) ?? 0,
    stalledCount: toNumber(f.l) ?? 0,
    attempts: options.at,
    priority: toNumber(f.p) ?? 0,
    createdAt: toNumber(f.t) ?? 0,
    startedAt: toNumber(f.s),
    finishedAt: toNumber(f.f),
    progress: safeDecode(codec, f.g),
    result: safeDecode(codec, f.r) as R | undefined,
    error: parseError(f.e, f.x),
    scheduleId: options.rp?.s,
  }
}

function safeDecode(codec: Codec, text: string | undefined): unknown {
  try {
    return decodeOptional(codec, text)
  } catch {
    return undefined
  }
}

/** Serialises an error for storage: message plus JSON details (code, name, a bounded stack). */
export function describeError(error: unknown): { message: string; details: string; code: string | undefined } {
  const err =
    error instanceof Error ? error : new Error(typeof error === 'string' ? error : `non-Error thrown: ${thrownText(error).slice(0, 200)}`)
  const rawCode = (err as { code?: unknown }).code
  const code = typeof rawCode === 'string' ? rawCode : undefined
  const message = (err.message || err.name || 'error').slice(0, 4096)
  const details = JSON.stringify({ code, name: err.name, stack: err.stack?.slice(0, 4096) })
  return { message, details, code }
}
