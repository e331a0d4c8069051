import { validateMs } from '../core/backoff.js'
import { Component } from '../core/component.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateName } from '../core/keys.js'
import { optionsObject } from '../core/validate.js'
import type { MessagingContext } from './context.js'
import { parseCron } from './cron.js'
import type { JobOptions, StoredRepeat } from './options.js'
import { type AddedJob, Queue } from './queue.js'
import { scheduleScript } from './queue-scripts.js'
import { nextOccurrence, occurrenceId, parseDefinition, scheduleVersion } from './repeat.js'

/** Job options a scheduled task may carry. */
export type TaskJobOptions = Pick<JobOptions, 'attempts' | 'backoff' | 'priority' | 'name'>

export interface DelayedTask<T> {
  /** The queue whose workers run the task. */
  queue: string
  /** The task's id: scheduling an id that exists changes nothing; `cancel(queue, id)` removes it. */
  id: string
  data: T
  delayMs?: number
  runAt?: number | Date
  job?: TaskJobOptions
}

export interface RepeatingTask<T> {
  queue: string
  /** The schedule's id. Registering the same definition again (e.g. at every boot) changes nothing; a different one replaces it. */
  id: string
  data: T
  /** A cron expression (5 or 6 fields; see parseCron). Give this or `everyMs`. */
  cron?: string
  /** IANA time zone of `cron`. @defaultValue 'UTC' */
  timeZone?: string
  /** Interval in ms; occurrences fall on `startAt + k * everyMs`. */
  everyMs?: number
  /** First possible run (cron and everyMs), and the phase of `everyMs`. @defaultValue 0 (the epoch: every minute means on the minute) */
  startAt?: number | Date
  /** No occurrence after this time. */
  endAt?: number | Date
  job?: TaskJobOptions
}

export interface RepeatResult {
  /** The definition was created or replaced (false: the same definition was registered already). */
  changed: boolean
  /** The definition was unchanged but its pending occurrence was missing (drained, removed, lost): it was added again. */
  repaired: boolean
  /** Due time of the pending occurrence this call added, or of the first one when nothing changed. */
  nextRunAt: number | undefined
}

export interface ScheduleInfo {
  id: string
  queue: string
  cron?: string
  timeZone?: string
  everyMs?: number
  startAt?: number
  endAt?: number
  /** The pending occurrence's job id (`<id>@<due ms>`). */
  nextJobId: string | undefined
  nextRunAt: number | undefined
}

function toMs(value: number | Date | undefined, what: string): number | undefined {
  if (value === undefined) return undefined
  const ms = value instanceof Date ? value.getTime() : value
  return validateMs(ms, what, { allowZero: true })
}

/**
 * Delayed tasks by id (with cancel) and repeating tasks (interval or cron) on top of queues. Each
 * occurrence of a repeating task is a job with the id `<schedule id>@<due time>`: whichever process
 * adds it, it is added once, so each due time runs once across any number of processes. The script
 * that leases an occurrence records that its schedule needs the next one; the worker that got it adds
 * it, and if that worker fails or dies any worker's recovery pass does.
 *
 * It holds nothing of its own (no timer, no connection): the base gives it the lifecycle every
 * component shares, so a call after `rk.close()` fails with E_CLOSED naming the scheduler.
 */
export class Scheduler extends Component {
  readonly #ctx: MessagingContext

  constructor(ctx: MessagingContext) {
    super({ name: 'scheduler', host: ctx })
    this.#ctx = ctx
  }

  /** Runs `data` on `queue` once, after a delay or at a time; resolves `created: false` if the id exists. */
  schedule<T>(task: DelayedTask<T>): Promise<AddedJob> {
    this.assertOpen()
    task = optionsObject(task, 'schedule task')
    const queue = new Queue<T>(this.#ctx, task.queue)
    const options: JobOptions = { ...task.job, jobId: task.id }
    if (task.runAt !== undefined) options.runAt = task.runAt
    else if (task.delayMs !== undefined) options.delayMs = task.delayMs
    return queue.add(task.data, options)
  }

  /**
   * Creates (or replaces) a repeating task and adds its first occurrence. Resolves the schedule's
   * first pending run and whether anything changed.
   */
  async repeat<T>(task: RepeatingTask<T>): Promise<RepeatResult> {
    this.assertOpen()
    task = optionsObject(task, 'repeat task')
    const queue = new Queue<T>(this.#ctx, task.queue)
    if ((task.cron === undefined) === (task.everyMs === undefined)) {
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'repeat needs exactly one of cron or everyMs')
    }
    const repeat: StoredRepeat = { s: validateScheduleId(task.id), v: '' }
    if (task.cron !== undefined) {
      parseCron(task.cron, task.timeZone)
      repeat.c = task.cron
      if (task.timeZone !== undefined) repeat.z = task.timeZone
    } else {
      repeat.e = validateMs(task.everyMs, 'everyMs')
    }
    const startAt = toMs(task.startAt, 'startAt')
    if (startAt !== undefined) repeat.sa = startAt
    const endAt = toMs(task.endAt, 'endAt')
    if (endAt !== undefined) repeat.ea = endAt
    const data = queue.encodePayload(task.data, 'task data')
    repeat.v = scheduleVersion({ ...repeat, v: undefined, d: data, j: task.job ?? {} })
    const now = this.clock.now()
    let due = nextOccurrence(repeat, now)
    if (due === undefined) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `schedule ${task.id} has no occurrence after now`)
    const job = queue.prepare(task.data, { ...task.job, jobId: occurrenceId(task.id, due), runAt: due }, { rp: repeat })
    // The job template travels with the definition: any worker can add the next occurrence from
    // it, even when the last occurrence's own record is gone (deleted on completion, drained).
    const definition = JSON.stringify({
      queue: queue.name,
      cron: repeat.c,
      timeZone: repeat.z,
      everyMs: repeat.e,
      startAt: repeat.sa,
      endAt: repeat.ea,
      job: { d: job.data, o: job.options, p: job.priority },
    })
    const k = queue.keys
    const [change, firstExists] = await scheduleScript.call(this.#ctx.connection, k, [
      repeat.s,
      repeat.v,
      definition,
      job.id,
      job.data,
      job.options,
      job.priority,
      due,
      now,
    ])
    if (firstExists === 1) {
      // The first due time already ran (or runs now): chain from the following one.
      for (let tries = 0; tries < 3 && due !== undefined; tries++) {
        due = nextOccurrence(repeat, due)
        if (due === undefined) {
          await queue.endAdvance(repeat.s)
          break
        }
        const added = await queue.addOccurrence(
          { ...job, id: occurrenceId(task.id, due), dueAt: due, unique: true },
          { id: repeat.s, version: repeat.v },
        )
        if (added !== 0) break
      }
    }
    return { changed: change === 1, repaired: change === 2, nextRunAt: due }
  }

  /** Cancels a delayed task or a repeating schedule (with its pending occurrence). Resolves false if there was nothing to cancel. */
  async cancel(queue: string, id: string): Promise<boolean> {
    this.assertOpen()
    const q = new Queue(this.#ctx, queue)
    const [job, schedule] = await q.cancel(validateScheduleId(id), id)
    return job === 1 || schedule === 1
  }

  /** The repeating schedules of a queue. */
  async list(queue: string): Promise<ScheduleInfo[]> {
    this.assertOpen()
    const q = new Queue(this.#ctx, queue)
    const k = q.keys
    const [defs, next] = await Promise.all([
      this.#ctx.connection.send<string[] | Record<string, string>>(['HGETALL', k.scheduleDefinitions], { key: k.scheduleDefinitions }),
      this.#ctx.connection.send<string[] | Record<string, string>>(['HGETALL', k.scheduleNext], { key: k.scheduleNext }),
    ])
    const nextOf = toRecord(next)
    const schedules: ScheduleInfo[] = []
    for (const [id, json] of Object.entries(toRecord(defs))) {
      const parsed = parseDefinition(json)
      if (!parsed) continue
      const { job: _template, ...def } = parsed as Omit<ScheduleInfo, 'id' | 'nextJobId' | 'nextRunAt'> & { job?: unknown }
      const nextJobId = nextOf[id]
      const at = nextJobId ? Number(nextJobId.slice(nextJobId.lastIndexOf('@') + 1)) : Number.NaN
      schedules.push({ id, ...def, nextJobId, nextRunAt: Number.isFinite(at) ? at : undefined })
    }
    return schedules
  }
}

function toRecord(reply: string[] | Record<string, string>): Record<string, string> {
  if (!Array.isArray(reply)) return reply
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < reply.length; i += 2) out[reply[i] as string] = reply[i + 1] as string
  return out
}

function validateScheduleId(id: unknown): string {
  const valid = validateName(id, 'task id')
  // Occurrence ids append '@<due ms>' and must stay within the id length limit.
  if (valid.length > 1000) throw new RedkitError(ErrorCodes.E_INVALID_KEY, `a task id is at most 1000 characters, got ${valid.length}`)
  return valid
}
