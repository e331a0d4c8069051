import { EventEmitter } from 'node:events'
import { validateMs } from '../core/backoff.js'
import { DurableWriter, validateDurable } from '../core/durability.js'
import { describeValue, ErrorCodes, isRedkitError, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import type { ScriptConnection } from '../core/scripts.js'
import { optionsObject } from '../core/validate.js'
import type { MessagingContext } from './context.js'
import { newJobId } from './ids.js'
import { type JobInfo, type JobState, parseJobInfo } from './job.js'
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type JobOptions,
  type PreparedJob,
  prepareJob,
  type QueueOptions,
  validateCount,
  validateJobId,
  validatePriority,
} from './options.js'
import { type QueueKeys, queueKeys, queuePattern } from './queue-keys.js'
import {
  addScript,
  cancelScript,
  cleanScript,
  countsScript,
  delayScript,
  drainScript,
  getScript,
  logScript,
  logsScript,
  pauseScript,
  priorityScript,
  retryDeadScript,
  updateScript,
  withJob,
} from './queue-scripts.js'
import { listWorkers, type QueueWorker } from './worker-registry.js'

export interface AddedJob {
  id: string
  /** false when a job with this `jobId` already existed: nothing was added (idempotent add). */
  created: boolean
}

export interface JobCounts {
  /** Ready to run now (prioritized ones included). */
  waiting: number
  /** Of `waiting`, those with a priority. */
  prioritized: number
  delayed: number
  active: number
  completed: number
  dead: number
  paused: boolean
}

export interface QueueEvents {
  added: [AddedJob[]]
  paused: []
  resumed: []
  removed: [id: string]
  retried: [count: number]
  cleaned: [state: 'completed' | 'dead', count: number]
  drained: [count: number]
}

/** Log lines kept per job (the newest); older ones are dropped as new ones are written. */
export const LOG_LINES_KEPT = 1000
/** Longest log line, characters. */
export const MAX_LOG_LINE = 16_384

/** Jobs per script call in addBulk: keeps each call short (other clients wait while a script runs). */
const BULK_CHUNK = 200

/**
 * A reliable job queue in one Cluster slot. Producers `add`; `rk.worker(name, handler)` consumes.
 * Delivery is at least once: see docs/messaging.md for the idempotency story.
 */
export class Queue<T = unknown> extends EventEmitter<QueueEvents> {
  readonly name: string
  readonly keys: QueueKeys
  readonly #ctx: MessagingContext
  readonly #maxPayloadBytes: number
  readonly #defaults: QueueOptions['defaultJobOptions']
  /** Where adds are written: the shared connection, or a durable writer (each add then WAITs). */
  readonly #writes: ScriptConnection

  constructor(ctx: MessagingContext, name: string, options: QueueOptions = {}) {
    super()
    this.#ctx = ctx
    this.name = validateObjectName(name, 'queue name')
    this.keys = queueKeys(ctx.keys, this.name)
    this.#maxPayloadBytes = validateCount(options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, 'maxPayloadBytes')
    this.#defaults = options.defaultJobOptions
    const durable = validateDurable(options.durable)
    this.#writes = durable ? new DurableWriter(ctx.connection, durable) : ctx.connection
  }

  /**
   * Adds a job. With `jobId`, adding an id that exists adds nothing and resolves `{ created: false }`.
   * @throws RedkitError E_ENCODE (data the codec cannot store), E_TOO_LARGE (over maxPayloadBytes),
   * E_INVALID_ARGUMENT / E_INVALID_KEY (bad options or jobId); nothing is written then.
   */
  async add(data: T, options?: JobOptions): Promise<AddedJob> {
    optionsObject(options)
    const [added] = await this.#addPrepared([this.prepare(data, options)])
    return added as AddedJob
  }

  /** Adds many jobs with one script call per 200 jobs. Every job is validated before anything is written. */
  async addBulk(jobs: ReadonlyArray<{ data: T; options?: JobOptions }>): Promise<AddedJob[]> {
    if (!Array.isArray(jobs)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'addBulk takes an array of { data, options }')
    const prepared = jobs.map((job, i) => {
      if (job === null || typeof job !== 'object')
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `addBulk: item ${i} is not { data, options }`)
      return this.prepare(job.data, job.options)
    })
    const out: AddedJob[] = []
    for (let i = 0; i < prepared.length; i += BULK_CHUNK) out.push(...(await this.#addPrepared(prepared.slice(i, i + BULK_CHUNK))))
    return out
  }

  /** Encodes and validates one job (internal; the scheduler uses it too). */
  prepare(data: T, options?: JobOptions, extra?: Parameters<typeof prepareJob>[5]): PreparedJob {
    const encoded = this.encodePayload(data, 'job data')
    return prepareJob(encoded, options, this.#defaults, Date.now(), newJobId, extra)
  }

  /** Encodes a payload and enforces the size limit. */
  encodePayload(value: unknown, what: string): string {
    const encoded = this.#ctx.codec.encode(value)
    const bytes = Buffer.byteLength(encoded)
    if (bytes > this.#maxPayloadBytes) {
      throw new RedkitError(
        ErrorCodes.E_TOO_LARGE,
        `${what} is ${bytes} bytes encoded; the limit is ${this.#maxPayloadBytes} (maxPayloadBytes)`,
        {
          details: { bytes, limit: this.#maxPayloadBytes },
        },
      )
    }
    return encoded
  }

  async #addPrepared(jobs: PreparedJob[]): Promise<AddedJob[]> {
    if (jobs.length === 0) return []
    const replies = await this.#addScript(jobs)
    const added = jobs.map((job, i) => ({ id: job.id, created: replies[i] === 1 }))
    if (this.listenerCount('added') > 0) this.emit('added', added)
    return added
  }

  #addScript(jobs: PreparedJob[], schedule?: { id: string; version: string }): Promise<number[]> {
    const args: Array<string | number> = []
    for (const job of jobs) {
      args.push(job.id, job.data, job.options, job.priority, job.dueAt, job.unique ? 1 : 0, schedule?.id ?? '', schedule?.version ?? '')
    }
    return addScript.call(this.#writes, this.keys, [Date.now(), jobs.length, ...args])
  }

  /**
   * Adds the next occurrence of a repeating schedule (internal), only while the schedule still has
   * that version and awaits its next occurrence. Resolves 1 added, 0 that occurrence exists
   * already (it ran), -1 cancelled, replaced or advanced by someone else.
   */
  async addOccurrence(job: PreparedJob, schedule: { id: string; version: string }): Promise<number> {
    const [reply] = await this.#addScript([job], schedule)
    return reply ?? -1
  }

  /** A schedule that has ended awaits no next occurrence (internal). */
  async endAdvance(scheduleId: string): Promise<void> {
    await this.#ctx.connection.send(['ZREM', this.keys.scheduleAdvance, scheduleId], { key: this.keys.scheduleAdvance })
  }

  /** The job and its state, or null when there is no such job (never added, removed, or trimmed by retention). */
  async getJob<R = unknown>(id: string): Promise<JobInfo<T, R> | null> {
    validateJobId(id)
    const k = this.keys
    const reply = await getScript.call(this.#ctx.connection, withJob(k, id), [id])
    if (!reply) return null
    return parseJobInfo<T, R>(this.#ctx.codec, id, reply[0], reply[1])
  }

  // ---- per-job actions --------------------------------------------------------------------------

  /** Runs a delayed job now (a retry waiting for its backoff too). Resolves false when the job is not delayed. */
  async promote(id: string): Promise<boolean> {
    return (await delayScript.call(this.#ctx.connection, this.keys, [validateJobId(id), 0])) === 1
  }

  /**
   * Gives a delayed job a new delay, counted from now (0 runs it now, as `promote`). Resolves false
   * when the job is not delayed.
   */
  async changeDelay(id: string, delayMs: number): Promise<boolean> {
    validateJobId(id)
    const delay = validateMs(delayMs, 'delayMs', { allowZero: true })
    return (await delayScript.call(this.#ctx.connection, this.keys, [id, delay === 0 ? 0 : Date.now() + delay])) === 1
  }

  /**
   * Changes the priority of a job that has not started (waiting or delayed); 0 = none. Resolves
   * false when it is running, finished or unknown. A job without a priority is looked up in the
   * ready list (a scan of it).
   */
  async changePriority(id: string, priority: number): Promise<boolean> {
    validateJobId(id)
    const p = validatePriority(priority)
    return (await priorityScript.call(this.#ctx.connection, withJob(this.keys, id), [id, p])) === 1
  }

  /**
   * Replaces a job's data, in any state (a delivery already running keeps the data it started
   * with; a retry gets the new data). Resolves false when there is no such job.
   * @throws RedkitError E_ENCODE, E_TOO_LARGE (nothing is written)
   */
  async updateData(id: string, data: T): Promise<boolean> {
    validateJobId(id)
    const encoded = this.encodePayload(data, `job ${id} data`)
    return (await updateScript.call(this.#ctx.connection, withJob(this.keys, id), [encoded])) === 1
  }

  /**
   * Appends a line to a job's log (kept with the job and deleted with it; the newest 1,000 lines
   * stay). Resolves the number of lines logged so far, 0 when there is no such job.
   */
  async log(id: string, line: string): Promise<number> {
    validateJobId(id)
    if (typeof line !== 'string') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'a log line must be a string')
    if (line.length > MAX_LOG_LINE)
      throw new RedkitError(ErrorCodes.E_TOO_LARGE, `a log line is ${line.length} characters; the limit is ${MAX_LOG_LINE}`, {
        details: { size: line.length, limit: MAX_LOG_LINE },
      })
    return logScript.call(this.#ctx.connection, withJob(this.keys, id), [line, LOG_LINES_KEPT])
  }

  /** A job's log lines, oldest kept first, and how many were logged in all (`count`, dropped ones included). */
  async getLogs(id: string, options: { offset?: number; limit?: number } = {}): Promise<{ count: number; logs: string[] }> {
    validateJobId(id)
    const { offset = 0, limit = 100 } = optionsObject(options)
    validateCount(limit, 'limit')
    validateCount(offset, 'offset', { allowZero: true })
    const [count, ...logs] = await logsScript.call(this.#ctx.connection, withJob(this.keys, id), [LOG_LINES_KEPT, offset, limit])
    return { count, logs }
  }

  /**
   * Ids of the jobs in one state, oldest first (waiting: in the order they will run, prioritized
   * ones after plain ones; active: by lease deadline).
   */
  async jobIds(state: JobState, options: { offset?: number; limit?: number } = {}): Promise<string[]> {
    const { offset = 0, limit = 100 } = optionsObject(options)
    validateCount(limit, 'limit')
    validateCount(offset, 'offset', { allowZero: true })
    const k = this.keys
    const send = <R>(args: string[]) => this.#ctx.connection.send<R>(args, { key: args[1] })
    const range = (key: string, from: number, count: number) => send<string[]>(['ZRANGE', key, String(from), String(from + count - 1)])
    switch (state) {
      case 'waiting': {
        const plain = await send<string[]>(['LRANGE', k.ready, String(offset), String(offset + limit - 1)])
        if (plain.length >= limit) return plain
        const length = await send<number>(['LLEN', k.ready])
        return [...plain, ...(await range(k.prioritized, Math.max(0, offset - length), limit - plain.length))]
      }
      case 'active':
        return (await range(k.active, offset, limit)).map((member) => member.slice(member.indexOf(':') + 1))
      case 'delayed':
        return range(k.delayed, offset, limit)
      case 'completed':
        return range(k.completed, offset, limit)
      case 'dead':
        return range(k.dead, offset, limit)
      default:
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `unknown job state ${describeValue(state)}`)
    }
  }

  /** Snapshots of the jobs in one state (see `jobIds`). Jobs that vanish meanwhile are skipped. */
  async jobs<R = unknown>(state: JobState, options?: { offset?: number; limit?: number }): Promise<Array<JobInfo<T, R>>> {
    const ids = await this.jobIds(state, options)
    // One job whose hash cannot be read (planted, or written by a newer redkit) must not hide the others.
    const jobs = await Promise.all(
      ids.map((id) =>
        this.getJob<R>(id).catch((error: unknown) => (isRedkitError(error, ErrorCodes.E_DECODE) ? null : Promise.reject(error))),
      ),
    )
    return jobs.filter((job): job is JobInfo<T, R> => job !== null)
  }

  /**
   * The workers consuming this queue now, in every process: each beats every `heartbeatMs` (5 s by
   * default) and is left out once it missed 3 beats (killed, or cut off from Redis); a worker that
   * closed is gone at once. As BullMQ's `getWorkers()`.
   */
  workers(): Promise<QueueWorker[]> {
    return listWorkers(this.#ctx, this.keys)
  }

  async counts(): Promise<JobCounts> {
    const k = this.keys
    const [waiting, delayed, active, completed, dead, paused, prioritized] = await countsScript.call(this.#ctx.connection, k, [])
    return {
      waiting: waiting ?? 0,
      prioritized: prioritized ?? 0,
      delayed: delayed ?? 0,
      active: active ?? 0,
      completed: completed ?? 0,
      dead: dead ?? 0,
      paused: paused === 1,
    }
  }

  /** Stops every worker from taking jobs (jobs in flight finish; adds go on). Resolves false if it was already paused. */
  async pause(): Promise<boolean> {
    const k = this.keys
    const changed = (await pauseScript.call(this.#ctx.connection, k, [1])) === 1
    if (changed) this.emit('paused')
    return changed
  }

  async resume(): Promise<boolean> {
    const k = this.keys
    const changed = (await pauseScript.call(this.#ctx.connection, k, [0])) === 1
    if (changed) this.emit('resumed')
    return changed
  }

  async isPaused(): Promise<boolean> {
    return (await this.#ctx.connection.send<string | null>(['HGET', this.keys.meta, 'paused'], { key: this.keys.meta })) === '1'
  }

  /**
   * Moves dead-lettered jobs back to the queue with a fresh set of attempts (their last error stays
   * readable until they run). Given ids, only those; else up to `limit` oldest. Resolves how many moved.
   */
  async retryDead(options: { ids?: string[]; limit?: number } = {}): Promise<number> {
    const { ids, limit = 1000 } = optionsObject(options)
    validateCount(limit, 'limit')
    const k = this.keys
    let moved = 0
    if (ids !== undefined) {
      if (!Array.isArray(ids)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'ids must be an array of job ids')
      for (const id of ids) validateJobId(id)
      for (let i = 0; i < ids.length; i += BULK_CHUNK) {
        moved += await retryDeadScript.call(this.#ctx.connection, k, [0, ...ids.slice(i, i + BULK_CHUNK)])
      }
    } else {
      for (let left = limit; left > 0; ) {
        const n = await retryDeadScript.call(this.#ctx.connection, k, [Math.min(left, BULK_CHUNK)])
        moved += n
        left -= n
        if (n === 0) break
      }
    }
    if (moved > 0) this.emit('retried', moved)
    return moved
  }

  /**
   * Deletes completed or dead jobs that finished more than `olderThanMs` ago (0 = all of them).
   * Resolves how many were deleted.
   */
  async clean(options: { state: 'completed' | 'dead'; olderThanMs?: number; limit?: number }): Promise<number> {
    const { state, olderThanMs = 0, limit = Number.MAX_SAFE_INTEGER } = optionsObject(options ?? null, 'clean options')
    if (state !== 'completed' && state !== 'dead')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, "clean: state must be 'completed' or 'dead'")
    validateMs(olderThanMs, 'olderThanMs', { allowZero: true })
    validateCount(limit, 'limit')
    const finished = state === 'completed' ? this.keys.completed : this.keys.dead
    const cutoff = olderThanMs === 0 ? '+inf' : Date.now() - olderThanMs
    let removed = 0
    while (removed < limit) {
      const batch = Math.min(1000, limit - removed)
      const n = await cleanScript.call(this.#ctx.connection, { finished, jobPrefix: this.keys.jobPrefix }, [cutoff, batch])
      removed += n
      if (n < batch) break
    }
    if (removed > 0) this.emit('cleaned', state, removed)
    return removed
  }

  /**
   * Deletes every waiting job (and, with `delayed: true`, every delayed job and repeating schedule).
   * Active jobs finish normally. Resolves how many jobs were deleted.
   */
  async drain(options: { delayed?: boolean } = {}): Promise<number> {
    const { delayed = false } = optionsObject(options)
    const k = this.keys
    let removed = 0
    for (;;) {
      const n = await drainScript.call(this.#ctx.connection, k, [delayed ? 1 : 0, 500])
      if (n === 0) break
      removed += n
    }
    this.emit('drained', removed)
    return removed
  }

  /** Cancels a job that has not started (waiting or delayed). Resolves false if it is running, finished or unknown. */
  async remove(id: string): Promise<boolean> {
    const [removed] = await this.cancel(validateJobId(id), '')
    if (removed === 1) this.emit('removed', id)
    return removed === 1
  }

  /** Cancels a job and/or a schedule (internal; see `rk.scheduler.cancel`). */
  cancel(jobId: string, scheduleId: string): Promise<[number, number]> {
    const k = this.keys
    return cancelScript.call(this.#ctx.connection, k, [jobId, scheduleId])
  }

  /**
   * Deletes every key of the queue: jobs in every state, schedules, counters. Stop its workers first.
   * Resolves how many keys were deleted.
   */
  async destroy(): Promise<number> {
    const pattern = queuePattern(this.#ctx.keys, this.name)
    let deleted = 0
    for (const node of this.#ctx.connection.masters()) {
      let cursor = '0'
      do {
        const [next, keys] = await node.send<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])
        cursor = next
        // UNLINK one key at a time keeps every command in one slot on Cluster (all keys share it anyway).
        for (let i = 0; i < keys.length; i += 500) {
          const batch = keys.slice(i, i + 500)
          if (batch.length > 0) deleted += await this.#ctx.connection.send<number>(['UNLINK', ...batch], { key: batch[0] })
        }
      } while (cursor !== '0')
    }
    return deleted
  }
}
