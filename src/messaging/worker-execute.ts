import diagnostics from 'node:diagnostics_channel'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { MessagingContext } from './context.js'
import { UnrecoverableError } from './errors.js'
import { describeError } from './job.js'
import { retryDelay } from './options.js'
import type { Queue } from './queue.js'
import { progressScript, withJob } from './queue-scripts.js'
import type { ActiveJob } from './worker-job.js'
import type { JobHandler, ResolvedWorkerOptions } from './worker-options.js'
import type { FinishedDelivery } from './worker-outcome.js'
import { waitForHandlers } from './worker-shutdown.js'
import { decodeLeased, type LeasedFields, type Running } from './worker-start.js'

/** What `redkit:messaging:job` tracing events carry (node:diagnostics_channel `tracingChannel`). */
export interface JobTraceContext {
  queue: string
  id: string
  attemptsMade: number
}

/**
 * Traces each handler run: subscribe with `diagnostics_channel.tracingChannel('redkit:messaging:job')`
 * (start, end, asyncStart, asyncEnd, error). Costs nothing while nobody subscribes.
 */
export const jobTracing = diagnostics.tracingChannel<JobTraceContext>('redkit:messaging:job')

/** How a handler run ended: completed (with its encoded result), to be retried after a delay, or dead. */
export interface HandlerResult<R> {
  kind: 'c' | 'r' | 'd'
  payload?: string
  result?: R
  error?: Error
  retryInMs?: number
}

export interface ExecuteOptions {
  queue: string
  jobTimeoutMs: number | undefined
  /** Encodes the result for storage; throws when it cannot be stored. */
  encode(value: unknown, what: string): string
}

/** Runs the handler of one leased job, traced and bounded by `jobTimeoutMs`; never throws. */
export async function execute<T, R>(entry: Running<T>, handler: JobHandler<T, R>, options: ExecuteOptions): Promise<HandlerResult<R>> {
  const { job } = entry
  let result: R
  try {
    const run = jobTracing.hasSubscribers
      ? jobTracing.tracePromise(async () => handler(job), { queue: options.queue, id: job.id, attemptsMade: job.attemptsMade })
      : Promise.resolve().then(() => handler(job))
    result = await withJobTimeout(entry, run, options.jobTimeoutMs)
  } catch (error) {
    return failure(entry, error)
  }
  try {
    return { kind: 'c', payload: result === undefined ? '' : options.encode(result, `job ${job.id} result`), result }
  } catch (error) {
    // A result that cannot be stored is a bug no retry fixes: dead-letter with the reason.
    return { kind: 'd', error: error as Error }
  }
}

/** A handler that never settles must not hold its lease (and its slot) forever. */
function withJobTimeout<T, R>(entry: Running<T>, run: Promise<R>, ms: number | undefined): Promise<R> {
  if (ms === undefined) return run
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new RedkitError(ErrorCodes.E_TIMEOUT, `job ${entry.job.id}: the handler ran longer than jobTimeoutMs (${ms} ms)`)
      entry.job.abort(error)
      reject(error)
    }, ms)
    run.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/** A failed run: retried with the job's backoff, or dead after its last attempt or an UnrecoverableError. */
function failure<T, R>(entry: Running<T>, thrown: unknown): HandlerResult<R> {
  const error = thrown instanceof Error ? thrown : new Error(describeError(thrown).message)
  const attemptsMade = entry.job.attemptsMade + 1
  if (error instanceof UnrecoverableError || attemptsMade >= entry.attempts) return { kind: 'd', error }
  return { kind: 'r', error, retryInMs: retryDelay(entry.backoff, attemptsMade) }
}

/** What the settle script is told about a run that ended while its lease was still held. */
export function deliveryOf<T, R>(entry: Running<T>, result: HandlerResult<R>): FinishedDelivery<T, R> {
  return {
    member: entry.member,
    id: entry.job.id,
    job: entry.job,
    kind: result.kind,
    payload: result.payload,
    result: result.result,
    error: result.error,
    retryInMs: result.retryInMs,
    startedAt: entry.job.startedAt,
    attemptsMade: entry.job.attemptsMade + (result.kind === 'c' ? 0 : 1),
    spec: result.kind === 'r' ? `${result.retryInMs ?? 0}:${entry.priority}` : '',
  }
}

export interface RunningJobsHooks<T, R> {
  active(job: ActiveJob<T>): void
  /** A run ended after its lease was lost: nothing is stored for it. */
  lost(job: ActiveJob<T>): void
  /** A run ended (or a leased job could not even start): its outcome waits for the next call. */
  finished(delivery: FinishedDelivery<T, R>): void
  report(error: unknown): void
}

/**
 * The jobs whose handlers run in this worker: started from the fields a call leased, run, and
 * handed to the worker as deliveries. A run that ends after its lease was lost or given back changes
 * nothing.
 */
export class RunningJobs<T, R> {
  readonly #entries = new Map<string, Running<T>>()
  readonly #ctx: MessagingContext
  readonly #queue: Queue<T>
  readonly #handler: JobHandler<T, R>
  readonly #o: ResolvedWorkerOptions
  readonly #hooks: RunningJobsHooks<T, R>
  #idle: Array<() => void> = []

  constructor(ctx: MessagingContext, queue: Queue<T>, handler: JobHandler<T, R>, o: ResolvedWorkerOptions, hooks: RunningJobsHooks<T, R>) {
    this.#ctx = ctx
    this.#queue = queue
    this.#handler = handler
    this.#o = o
    this.#hooks = hooks
  }

  get size(): number {
    return this.#entries.size
  }

  values(): IterableIterator<Running<T>> {
    return this.#entries.values()
  }

  start(serverNow: number, fields: LeasedFields): void {
    const decoded = decodeLeased<T>(fields, serverNow, {
      queue: this.#queue.name,
      codec: this.#ctx.codec,
      defaultAttempts: this.#o.attempts,
      defaultBackoff: this.#o.backoff,
      store: (member, id, value) => this.#storeProgress(member, id, value),
      actions: this.#queue as Queue<unknown>,
    })
    if ('failure' in decoded) {
      // Malformed in Redis: no retry can fix it. Dead-letter it with the reason; the worker goes on.
      const { member, id, attemptsMade, failure } = decoded
      this.#hooks.finished({
        member,
        id,
        job: undefined,
        kind: 'd',
        error: failure,
        startedAt: serverNow,
        attemptsMade: attemptsMade + 1,
        spec: '',
      })
      return
    }
    const { entry } = decoded
    this.#entries.set(entry.member, entry)
    this.#hooks.active(entry.job)
    this.#execute(entry).catch((error: unknown) => this.#settleFailed(entry, error))
  }

  /** The settle path itself threw (a bug, or stored data no check caught): report it, dead-letter the job, never end the process. */
  #settleFailed(entry: Running<T>, thrown: unknown): void {
    this.#hooks.report(thrown)
    try {
      this.#settle(entry, { kind: 'd', error: thrown instanceof Error ? thrown : new Error(describeError(thrown).message) })
    } catch (again) {
      this.#hooks.report(again)
    }
  }

  async #execute(entry: Running<T>): Promise<void> {
    const result = await execute(entry, this.#handler, {
      queue: this.#queue.name,
      jobTimeoutMs: this.#o.jobTimeoutMs,
      encode: (value, what) => this.#queue.encodePayload(value, what),
    })
    this.#settle(entry, result)
  }

  #settle(entry: Running<T>, result: HandlerResult<R>): void {
    // A handler that settles after a timeout or after its lease was given back changes nothing.
    if (this.#entries.get(entry.member) !== entry) return
    this.#entries.delete(entry.member)
    if (this.#entries.size === 0) for (const resolve of this.#idle.splice(0)) resolve()
    if (entry.lost) {
      this.#hooks.lost(entry.job)
      return
    }
    if (entry.released) return
    this.#hooks.finished(deliveryOf(entry, result))
  }

  async #storeProgress(member: string, id: string, progress: unknown): Promise<boolean> {
    const encoded = this.#queue.encodePayload(progress, `job ${id} progress`)
    const stored = await progressScript.call(this.#ctx.connection, withJob(this.#queue.keys, id), [member, encoded])
    return stored === 1
  }

  /** Resolves when no handler runs any more, or at `deadline` (epoch ms). */
  whenIdle(deadline: number): Promise<void> {
    return waitForHandlers(
      () => this.#entries.size,
      (resolve) => this.#idle.push(resolve),
      deadline,
    )
  }

  /** Closing: the runs still going are aborted and their late results dropped. @returns the leases to give back */
  giveBack(): string[] {
    const left = [...this.#entries.values()].filter((e) => !e.lost)
    for (const entry of left) {
      entry.released = true
      entry.job.abort(new RedkitError(ErrorCodes.E_CLOSED, `worker closed before job ${entry.job.id} finished; the job was given back`))
    }
    return left.map((e) => e.member)
  }
}
