import diagnostics from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import { backoffDelay } from '../core/backoff.js'
import { ErrorCodes, isRedkitError, RedkitError } from '../core/errors.js'
import type { MessagingContext } from './context.js'
import { UnrecoverableError } from './errors.js'
import { IdleWaiter } from './idle-waiter.js'
import { newWorkerId } from './ids.js'
import { describeError, parseStoredOptions } from './job.js'
import { type BackoffPolicy, loadBackoff, retryDelay, type StoredJobOptions } from './options.js'
import { Queue } from './queue.js'
import { extendScript, type NextReply, nextScript, progressScript, releaseScript, withJob } from './queue-scripts.js'
import { nextOccurrence, occurrenceDue, occurrenceId } from './repeat.js'
import { checkEviction } from './server-check.js'
import { ActiveJob } from './worker-job.js'
import {
  type JobHandler,
  type ResolvedWorkerOptions,
  resolveWorkerOptions,
  type WorkerEvents,
  type WorkerOptions,
} from './worker-options.js'
import { type FinishedDelivery, type Outcome, outcomeArgs, toOutcome } from './worker-outcome.js'

export type { JobHandler, WorkerEvents, WorkerOptions } from './worker-options.js'

interface Running<T> {
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

const warned = new Set<string>()

/** A process warning (once per message), as BullMQ prints for an eviction policy. */
function warnOnce(problem: RedkitError): void {
  if (warned.has(problem.message)) return
  warned.add(problem.message)
  process.emitWarning(problem.message, { code: problem.code })
}

const MAX_BATCH = 500
/** A busy worker looks for due delayed jobs at most this often (inside its normal calls). */
const PROMOTE_EVERY_MS = 5
const ERROR_BACKOFF = { delayMs: 50, maxDelayMs: 2000, jitter: 0.3 }

/**
 * Consumes a queue: leases jobs (at most `concurrency` at a time), renews the leases while handlers
 * run, stores results, retries failures with backoff and dead-letters the last failure. One script
 * call settles every finished job and leases the next ones; an idle worker blocks on a wake-up list
 * (one command per `idleBlockMs`) and arms a timer for the next delayed job or lease expiry.
 */
export class Worker<T = unknown, R = unknown> extends EventEmitter<WorkerEvents<T, R>> {
  readonly name: string
  readonly id = newWorkerId()
  readonly #ctx: MessagingContext
  readonly #queue: Queue<T>
  readonly #handler: JobHandler<T, R>
  readonly #o: ResolvedWorkerOptions
  readonly #idle: IdleWaiter
  readonly #running = new Map<string, Running<T>>()
  #outcomes: Array<Outcome<T, R>> = []
  #state: 'new' | 'running' | 'closing' | 'closed' = 'new'
  #inflight = false
  #again = false
  #woke = false
  #force = false
  #retryTimer: NodeJS.Timeout | undefined
  #renewTimer: NodeJS.Timeout | undefined
  #errors = 0
  #callSeq = 0
  #clockOffset = 0
  #lastPromote = Number.NEGATIVE_INFINITY
  #lastRecover = Number.NEGATIVE_INFINITY
  #lastTrim = 0
  #completedSinceTrim = 0
  #nextDelayedAt = -2
  #closing: Promise<void> | undefined
  #flushed: Array<() => void> = []
  readonly #unregister: () => void

  constructor(ctx: MessagingContext, name: string, handler: JobHandler<T, R>, options: WorkerOptions = {}) {
    super()
    if (typeof handler !== 'function') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'worker needs a handler function')
    this.#ctx = ctx
    this.#queue = new Queue<T>(ctx, name, options)
    this.name = this.#queue.name
    this.#handler = handler
    this.#o = resolveWorkerOptions(options)
    this.#idle = new IdleWaiter(ctx, this.#queue.keys.wake, this.#o.idleBlockMs, {
      free: () => this.#free(),
      wake: (reason) => {
        if (reason === 'marker') this.#woke = true
        else this.#force = true
        this.#pump()
      },
      reportError: (error) => this.#reportError(error),
    })
    this.#unregister = ctx.onClose(() => this.close())
    if (options.autostart ?? true) queueMicrotask(() => this.run())
  }

  get concurrency(): number {
    return this.#o.concurrency
  }

  /** Jobs whose handler is running now. */
  get running(): number {
    return this.#running.size
  }

  get closed(): boolean {
    return this.#state === 'closed' || this.#state === 'closing'
  }

  /** Starts consuming (done by the constructor unless `autostart: false`). */
  run(): void {
    if (this.#state !== 'new') return
    this.#state = 'running'
    this.#renewTimer = setInterval(() => this.#renew(), Math.max(50, Math.floor(this.#o.leaseMs / 3)))
    this.#renewTimer.unref()
    this.#pump()
    void checkEviction(this.#ctx).then((problem) => {
      if (!problem || this.#state !== 'running') return
      warnOnce(problem)
      this.#reportError(problem)
    })
  }

  // ---- the loop: one script call at a time, carrying everything that is ready ----------------

  #free(): number {
    return this.#state === 'running' ? Math.max(0, this.#o.concurrency - this.#running.size) : 0
  }

  #serverNow(): number {
    return Date.now() + this.#clockOffset
  }

  #pump(): void {
    if (this.#state === 'closed' || this.#state === 'new') return
    if (this.#inflight) {
      this.#again = true
      return
    }
    const o = this.#o
    const wanted = this.#free()
    const now = performance.now()
    const promote =
      wanted > 0 &&
      (this.#force || now - this.#lastPromote >= PROMOTE_EVERY_MS || (this.#nextDelayedAt >= 0 && this.#serverNow() >= this.#nextDelayedAt))
    const recover = this.#force || now - this.#lastRecover >= Math.min(1000, o.leaseMs / 2)
    const outcomes = this.#outcomes.splice(0, MAX_BATCH)
    if (outcomes.length === 0 && wanted === 0 && !recover) {
      this.#notifyFlushed()
      return
    }
    const trim =
      o.keep > 0 && (this.#completedSinceTrim >= Math.max(10, o.keep / 10) || (this.#completedSinceTrim > 0 && now - this.#lastTrim > 5000))
    const woke = this.#woke
    this.#force = false
    this.#woke = false
    this.#inflight = true
    this.#again = false
    const k = this.#queue.keys
    const tokenPrefix = `${this.id}.${(this.#callSeq++).toString(36)}.`
    nextScript
      .call(this.#ctx.connection, k, [
        o.leaseMs,
        wanted,
        tokenPrefix,
        promote ? 1 : 0,
        recover ? 1 : 0,
        woke ? 1 : 0,
        o.limiter?.max ?? 0,
        o.limiter?.durationMs ?? 0,
        o.keep,
        trim ? 1 : 0,
        o.attempts,
        outcomes.length,
        ...outcomeArgs(outcomes),
      ])
      .then(
        (reply) => {
          this.#errors = 0
          if (promote) this.#lastPromote = now
          if (recover) this.#lastRecover = now
          if (trim) {
            this.#lastTrim = now
            this.#completedSinceTrim = 0
          }
          this.#handleReply(reply, wanted, outcomes)
        },
        (error: unknown) => {
          // Nothing is known to be settled: keep the outcomes (one that was settled after all is
          // recognised by its token on the next try) and try again with backoff.
          this.#outcomes = [...outcomes, ...this.#outcomes]
          if (woke) this.#woke = true
          this.#reportError(error)
          this.#retryLater()
        },
      )
      .finally(() => {
        this.#inflight = false
        if (this.#again || this.#outcomes.length > 0) this.#pump()
        else this.#notifyFlushed()
      })
  }

  #retryLater(): void {
    if (this.#retryTimer || this.#state === 'closed') return
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined
        this.#force = true
        this.#pump()
      },
      backoffDelay(++this.#errors, ERROR_BACKOFF),
    )
    this.#retryTimer.unref()
  }

  #handleReply(reply: NextReply, wanted: number, outcomes: Array<Outcome<T, R>>): void {
    const [serverNow, nextDelayed, idleWake, leased, statuses, recovered, recoveredDead] = reply
    this.#clockOffset = serverNow - Date.now()
    if (nextDelayed !== -2) this.#nextDelayedAt = nextDelayed
    for (const [i, outcome] of outcomes.entries()) this.#settled(outcome, statuses[i] ?? 0)
    if (recovered > 0) this.emit('recovered', recovered)
    for (const id of recoveredDead) {
      this.emit('dead', id, new RedkitError(ErrorCodes.E_JOB_LOST, `job ${id}: the lease expired on its last attempt`), undefined)
    }
    let fetched = 0
    for (let i = 0; i + 7 < leased.length; i += 8) {
      fetched++
      this.#start(serverNow, leased.slice(i, i + 8))
    }
    const idle = wanted > 0 && fetched < wanted
    if (this.#state === 'running' && this.#idle.set(idle, idle ? idleWake : -1, serverNow)) this.emit('drained')
  }

  #settled(outcome: Outcome<T, R>, status: number): void {
    if (status === 0) {
      if (outcome.job) this.emit('lost', outcome.job)
      return
    }
    if (outcome.kind === 'c') {
      this.#completedSinceTrim++
      if (outcome.job) this.emit('completed', outcome.job, outcome.result as R)
    } else if (outcome.kind === 'r') {
      if (outcome.job) this.emit('failed', outcome.job, outcome.error as Error, outcome.retryInMs ?? 0)
    } else {
      this.emit('dead', outcome.id, outcome.error as Error, outcome.job)
    }
  }

  // ---- running jobs ---------------------------------------------------------------------------

  #start(serverNow: number, fields: Array<string | null>): void {
    const [member, id, data, optionsText, made, created, progress, priorityText] = fields as [
      string,
      string,
      string,
      string | null,
      string | null,
      string | null,
      string | null,
      string | null,
    ]
    const attemptsMade = Number(made ?? 0) || 0
    let options: StoredJobOptions
    let decoded: T
    let storedProgress: unknown
    try {
      options = parseStoredOptions(optionsText, id)
      decoded = this.#ctx.codec.decode(data) as T
      storedProgress = progress ? this.#ctx.codec.decode(progress) : undefined
    } catch (error) {
      // Malformed in Redis: no retry can fix it. Dead-letter it with the reason; the worker goes on.
      const reason = isRedkitError(error)
        ? error
        : new RedkitError(ErrorCodes.E_DECODE, `job ${id}: ${(error as Error).message}`, { cause: error })
      this.#finish({ member, id, job: undefined, kind: 'd', error: reason, startedAt: serverNow, attemptsMade: attemptsMade + 1, spec: '' })
      return
    }
    const fields_ = {
      id,
      queue: this.name,
      data: decoded,
      attemptsMade,
      createdAt: Number(created ?? 0) || 0,
      startedAt: serverNow,
      progress: storedProgress,
    }
    const attempts = options.at ?? this.#o.attempts
    const job = new ActiveJob<T>({ ...fields_, attempts }, (value) => this.#storeProgress(member, id, value))
    const entry: Running<T> = {
      member,
      job,
      priority: Number(priorityText ?? 0) || 0,
      attempts,
      backoff: loadBackoff(options.bo) ?? this.#o.backoff,
      lost: false,
      released: false,
    }
    this.#running.set(member, entry)
    this.emit('active', job)
    void this.#execute(entry, options, data, optionsText ?? '{}')
  }

  async #execute(entry: Running<T>, options: StoredJobOptions, rawData: string, rawOptions: string): Promise<void> {
    const { job } = entry
    let result: R
    try {
      if (options.rp) await this.#addNextOccurrence(job.id, options.rp, rawData, rawOptions, entry.priority)
      result = jobTracing.hasSubscribers
        ? await jobTracing.tracePromise(async () => this.#handler(job), { queue: this.name, id: job.id, attemptsMade: job.attemptsMade })
        : await this.#handler(job)
    } catch (error) {
      this.#failed(entry, error)
      return
    }
    let payload: string
    try {
      payload = result === undefined ? '' : this.#queue.encodePayload(result, `job ${job.id} result`)
    } catch (error) {
      // A result that cannot be stored is a bug no retry fixes: dead-letter with the reason.
      this.#done(entry, { kind: 'd', error: error as Error })
      return
    }
    this.#done(entry, { kind: 'c', payload, result })
  }

  /** A repeating schedule's occurrence adds the next one before it runs (idempotent by id). */
  async #addNextOccurrence(
    id: string,
    repeat: NonNullable<StoredJobOptions['rp']>,
    data: string,
    options: string,
    priority: number,
  ): Promise<void> {
    const due = occurrenceDue(id) ?? this.#serverNow()
    const next = nextOccurrence(repeat, Math.max(due, this.#serverNow()))
    if (next === undefined) return
    await this.#queue.addOccurrence(
      { id: occurrenceId(repeat.s, next), unique: true, data, options, priority, dueAt: next },
      { id: repeat.s, version: repeat.v },
    )
  }

  #failed(entry: Running<T>, thrown: unknown): void {
    const error = thrown instanceof Error ? thrown : new Error(describeError(thrown).message)
    const attemptsMade = entry.job.attemptsMade + 1
    if (error instanceof UnrecoverableError || attemptsMade >= entry.attempts) {
      this.#done(entry, { kind: 'd', error })
      return
    }
    this.#done(entry, { kind: 'r', error, retryInMs: retryDelay(entry.backoff, attemptsMade) })
  }

  #done(entry: Running<T>, result: { kind: 'c' | 'r' | 'd'; payload?: string; result?: R; error?: Error; retryInMs?: number }): void {
    this.#running.delete(entry.member)
    if (entry.lost) {
      this.emit('lost', entry.job)
      this.#pump()
      return
    }
    if (entry.released) return
    this.#finish({
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
    })
  }

  #finish(delivery: FinishedDelivery<T, R>): void {
    this.#outcomes.push(toOutcome(delivery))
    // Settle everything that finishes in this turn of the event loop with one script call.
    if (this.#outcomes.length === 1) setImmediate(() => this.#pump())
  }

  async #storeProgress(member: string, id: string, progress: unknown): Promise<boolean> {
    const encoded = this.#queue.encodePayload(progress, `job ${id} progress`)
    const stored = await progressScript.call(this.#ctx.connection, withJob(this.#queue.keys, id), [member, encoded])
    return stored === 1
  }

  /** Renews every lease held; a lease found gone aborts its job's signal. */
  #renew(): void {
    const entries = [...this.#running.values()].filter((e) => !e.lost && !e.released)
    if (entries.length === 0) return
    extendScript.call(this.#ctx.connection, this.#queue.keys, [this.#o.leaseMs, ...entries.map((e) => e.member)]).then(
      (replies) => {
        for (const [i, entry] of entries.entries()) {
          if (replies[i] !== 0) continue
          entry.lost = true
          entry.job.abort(new RedkitError(ErrorCodes.E_JOB_LOST, `job ${entry.job.id}: the lease expired and the job was delivered again`))
        }
      },
      (error: unknown) => this.#reportError(error),
    )
  }

  #reportError(error: unknown): void {
    if (this.#state === 'closed' || this.listenerCount('error') === 0) return
    const message = error instanceof Error ? error.message : String(error)
    this.emit(
      'error',
      isRedkitError(error) ? error : new RedkitError(ErrorCodes.E_REDIS, `worker ${this.name}: ${message}`, { cause: error }),
    )
  }

  #notifyFlushed(): void {
    if (this.#outcomes.length > 0 || this.#inflight) return
    for (const resolve of this.#flushed.splice(0)) resolve()
  }

  #whenFlushed(timeoutMs: number): Promise<void> {
    if (this.#outcomes.length === 0 && !this.#inflight) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.#flushed.push(() => {
        clearTimeout(timer)
        resolve()
      })
      this.#pump()
    })
  }

  // ---- shutdown -------------------------------------------------------------------------------

  /**
   * Stops taking jobs, waits up to `timeoutMs` for running handlers, stores their results, and gives
   * back the jobs still running after that (no attempt is counted; their late results are rejected).
   * Idempotent; `rk.close()` calls it.
   */
  close({ timeoutMs = this.#o.closeTimeoutMs }: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(timeoutMs)
    return this.#closing
  }

  async #close(timeoutMs: number): Promise<void> {
    const wasNew = this.#state === 'new'
    this.#state = 'closing'
    this.#unregister()
    this.#idle.close()
    if (!wasNew) {
      const deadline = Date.now() + timeoutMs
      while (this.#running.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, deadline - Date.now()))))
      }
      const left = [...this.#running.values()].filter((e) => !e.lost)
      if (left.length > 0) {
        for (const entry of left) {
          entry.released = true
          entry.job.abort(new RedkitError(ErrorCodes.E_CLOSED, `worker closed before job ${entry.job.id} finished; the job was given back`))
        }
        const k = this.#queue.keys
        await releaseScript
          .call(
            this.#ctx.connection,
            k,
            left.map((e) => e.member),
          )
          .catch((error: unknown) => this.#reportError(error))
      }
      await this.#whenFlushed(Math.max(1000, deadline - Date.now()))
    }
    clearInterval(this.#renewTimer)
    clearTimeout(this.#retryTimer)
    this.#state = 'closed'
    this.emit('closed')
  }
}
