import diagnostics from 'node:diagnostics_channel'
import { withTimeout } from '../core/async.js'
import { backoffDelay } from '../core/backoff.js'
import { EmitterComponent } from '../core/component.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { MessagingContext } from './context.js'
import { UnrecoverableError } from './errors.js'
import { IdleWaiter } from './idle-waiter.js'
import { newWorkerId } from './ids.js'
import { describeError } from './job.js'
import { retryDelay } from './options.js'
import { Queue } from './queue.js'
import { type NextReply, nextScript, progressScript, withJob } from './queue-scripts.js'
import { checkEviction } from './server-check.js'
import {
  handlerOf,
  type JobHandler,
  type JobHandlers,
  type ResolvedWorkerOptions,
  resolveWorkerOptions,
  type WorkerEvents,
  type WorkerOptions,
} from './worker-options.js'
import { type FinishedDelivery, type Outcome, outcomeArgs, toOutcome } from './worker-outcome.js'
import { WorkerBeat } from './worker-registry.js'
import { LeaseRenewal } from './worker-renewal.js'
import { advanceSchedules } from './worker-schedules.js'
import { releaseLeases, waitForHandlers } from './worker-shutdown.js'
import { decodeLeased, type LeasedFields, type Running } from './worker-start.js'

export type { JobHandler, JobHandlers, WorkerEvents, WorkerOptions } from './worker-options.js'

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

/** One `queue-next` call: kept whole after a failure, and sent again as is (same token prefix). */
interface Call<T, R> {
  args: Parameters<typeof nextScript.call>[2]
  wanted: number
  outcomes: Array<Outcome<T, R>>
  promote: boolean
  recover: boolean
  trim: boolean
  at: number
}

/**
 * Consumes a queue: leases jobs (at most `concurrency` at a time), renews the leases while handlers
 * run, stores results, retries failures with backoff and dead-letters the last failure. One script
 * call settles every finished job and leases the next ones; an idle worker blocks on a wake-up list
 * (one command per `idleBlockMs`) and arms a timer for the next delayed job or lease expiry.
 */
export class Worker<T = unknown, R = unknown> extends EmitterComponent<WorkerEvents<T, R>> {
  readonly id = newWorkerId()
  readonly #ctx: MessagingContext
  readonly #queue: Queue<T>
  readonly #handler: JobHandler<T, R>
  readonly #o: ResolvedWorkerOptions
  readonly #idle: IdleWaiter
  readonly #renewal: LeaseRenewal
  readonly #beat: WorkerBeat
  readonly #running = new Map<string, Running<T>>()
  #outcomes: Array<Outcome<T, R>> = []
  #started = false
  #inflight = false
  #again = false
  #woke = false
  #force = false
  /** A call whose reply was lost: sent again before anything new. */
  #resend: Call<T, R> | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #errors = 0
  #callSeq = 0
  #clockOffset = 0
  #lastPromote = Number.NEGATIVE_INFINITY
  #lastRecover = Number.NEGATIVE_INFINITY
  #lastTrim = 0
  #completedSinceTrim = 0
  #deadSinceTrim = 0
  #nextDelayedAt = -2
  #closeTimeoutMs: number
  #flushed: Array<() => void> = []
  #handlersDone: Array<() => void> = []
  readonly #releasing = new Set<Promise<unknown>>()

  constructor(ctx: MessagingContext, name: string, handler: JobHandler<T, R> | JobHandlers<T, R>, options: WorkerOptions = {}) {
    const run = handlerOf(handler)
    const queue = new Queue<T>(ctx, name, options)
    const resolved = resolveWorkerOptions(options)
    super({ name: queue.name, kind: 'worker', host: ctx })
    this.#ctx = ctx
    this.#queue = queue
    this.#handler = run
    this.#o = resolved
    this.#closeTimeoutMs = resolved.closeTimeoutMs
    this.#idle = new IdleWaiter(ctx, queue.keys.wake, resolved.idleBlockMs, {
      free: () => this.#free(),
      wake: (reason) => {
        if (reason === 'marker') this.#woke = true
        else this.#force = true
        this.#pump()
      },
      reportError: (error) => this.report(error),
    })
    this.#renewal = new LeaseRenewal(
      ctx,
      queue.keys,
      resolved.leaseMs,
      () => this.#running.values(),
      (error) => this.report(error),
    )
    const names = typeof handler === 'function' ? [] : Object.keys(handler)
    const registered = { id: this.id, concurrency: resolved.concurrency, names, heartbeatMs: resolved.heartbeatMs }
    this.#beat = new WorkerBeat(ctx, queue.keys, registered, (error) => this.report(error))
    if (options.autostart ?? true) queueMicrotask(() => this.run())
  }

  get concurrency(): number {
    return this.#o.concurrency
  }

  /** Jobs whose handler is running now. */
  get running(): number {
    return this.#running.size
  }

  override get closed(): boolean {
    return this.state !== 'open'
  }

  /** Starts consuming (done by the constructor unless `autostart: false`). */
  run(): void {
    if (this.#started || this.closed) return
    this.#started = true
    this.#renewal.start()
    this.#beat.start()
    this.#pump()
    void checkEviction(this.#ctx).then((problem) => {
      if (!problem || this.closed) return
      warnOnce(problem)
      this.report(problem)
    })
  }

  // ---- the loop: one script call at a time, carrying everything that is ready ----------------

  #free(): number {
    return this.#started && !this.closed ? Math.max(0, this.#o.concurrency - this.#running.size) : 0
  }

  #serverNow(): number {
    return Date.now() + this.#clockOffset
  }

  #pump(): void {
    if (!this.#started || this.state === 'closed') return
    if (this.#inflight) {
      this.#again = true
      return
    }
    const call = this.#resend ?? this.#nextCall()
    if (!call) {
      this.#notifyFlushed()
      return
    }
    this.#resend = undefined
    this.#inflight = true
    this.#again = false
    nextScript
      .call(this.#ctx.connection, this.#queue.keys, call.args)
      .then(
        (reply) => {
          this.#errors = 0
          if (call.promote) this.#lastPromote = call.at
          if (call.recover) this.#lastRecover = call.at
          if (call.trim) {
            this.#lastTrim = call.at
            this.#completedSinceTrim = 0
            this.#deadSinceTrim = 0
          }
          this.#handleReply(reply, call.wanted, call.outcomes)
        },
        (error: unknown) => {
          if (this.state !== 'open') {
            // Closing: a node that failed to answer within the command bound will not answer within
            // close's either (a frozen master). Resending would hold close() for closeTimeoutMs; the
            // unstored outcomes' leases lapse instead, and those jobs run again (a stall, not an attempt).
            const unstored = call.outcomes.length + this.#outcomes.splice(0).length
            if (unstored > 0)
              this.report(
                new RedkitError(
                  ErrorCodes.E_CONNECTION,
                  `worker closed before the outcomes of ${unstored} job(s) could be stored (${describeError(error).message}); their leases lapse and they run again`,
                  { cause: error },
                ),
              )
            return
          }
          // The script may have run and only its reply been lost: send the very same call again
          // (same token prefix). The script recognises it and answers with the first run's leases
          // and statuses, so nothing leased is orphaned and nothing settled is reported lost.
          this.#resend = call
          this.report(error)
          this.#retryLater()
        },
      )
      .finally(() => {
        this.#inflight = false
        if (this.#resend) return
        if (this.#again || this.#outcomes.length > 0) this.#pump()
        else this.#notifyFlushed()
      })
  }

  #nextCall(): Call<T, R> | undefined {
    const o = this.#o
    const wanted = this.#free()
    const now = performance.now()
    const promote =
      wanted > 0 &&
      (this.#force || now - this.#lastPromote >= PROMOTE_EVERY_MS || (this.#nextDelayedAt >= 0 && this.#serverNow() >= this.#nextDelayedAt))
    const recover = this.#force || now - this.#lastRecover >= Math.min(1000, o.leaseMs / 2)
    if (this.#outcomes.length === 0 && wanted === 0 && !recover) return undefined
    const outcomes = this.#outcomes.splice(0, MAX_BATCH)
    // Retention, amortised: after a tenth of the kept count has finished, or every 5 s while jobs
    // finish (always, when an age bound must be met even if nothing finishes).
    const finished = this.#completedSinceTrim + this.#deadSinceTrim
    const aged = o.completedAgeMs >= 0 || o.deadAgeMs >= 0
    const trim =
      (o.keep > 0 || aged || o.deadKeep >= 0) &&
      (finished >= Math.max(10, (o.keep > 0 ? o.keep : 1000) / 10) || ((finished > 0 || aged) && now - this.#lastTrim > 5000))
    const woke = this.#woke
    this.#force = false
    this.#woke = false
    const tokenPrefix = `${this.id}.${(this.#callSeq++).toString(36)}.`
    const args: Call<T, R>['args'] = [
      o.leaseMs,
      wanted,
      tokenPrefix,
      promote ? 1 : 0,
      recover ? 1 : 0,
      woke ? 1 : 0,
      o.limiter?.max ?? 0,
      o.limiter?.durationMs ?? 0,
      o.keep,
      trim ? `${o.completedAgeMs}:${o.deadKeep}:${o.deadAgeMs}` : 0,
      o.maxStalledCount,
      outcomes.length,
      ...outcomeArgs(outcomes),
    ]
    return { args, wanted, outcomes, promote, recover, trim, at: now }
  }

  #retryLater(): void {
    if (this.#retryTimer || this.state === 'closed') return
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
    const [serverNow, nextDelayed, idleWake, leased, statuses, recovered, recoveredDead, advances = [], missing = []] = reply
    this.#clockOffset = serverNow - Date.now()
    if (nextDelayed !== -2) this.#nextDelayedAt = nextDelayed
    for (const [i, outcome] of outcomes.entries()) this.#settled(outcome, statuses[i] ?? 0)
    if (recovered > 0) this.emit('recovered', recovered)
    for (const id of recoveredDead) {
      this.emit(
        'dead',
        id,
        new RedkitError(ErrorCodes.E_JOB_LOST, `job ${id}: its lease expired more often than maxStalledCount`),
        undefined,
      )
    }
    for (const id of missing) {
      this.emit('dead', id, new RedkitError(ErrorCodes.E_JOB_LOST, `job ${id}: its record was missing (evicted or deleted)`), undefined)
    }
    if (advances.length > 0) {
      advanceSchedules(this.#queue as Queue<unknown>, advances, serverNow).catch((error: unknown) => this.report(error))
    }
    const batch: LeasedFields[] = []
    for (let i = 0; i + 7 < leased.length; i += 8) batch.push(leased.slice(i, i + 8) as LeasedFields)
    if (this.closed) {
      // Leased by a call sent before close(): give them back now rather than run them with no one
      // to store their results or renew their leases. No attempt is counted.
      if (batch.length > 0) this.#release(batch.map((fields) => fields[0]))
      return
    }
    for (const fields of batch) this.#start(serverNow, fields)
    const idle = wanted > 0 && batch.length < wanted
    if (this.#idle.set(idle, idle ? idleWake : -1, serverNow)) this.emit('drained')
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
      this.#deadSinceTrim++
      this.emit('dead', outcome.id, outcome.error as Error, outcome.job)
    }
  }

  #release(members: string[]): void {
    const done = releaseLeases(this.#ctx, this.#queue.keys, members).catch((error: unknown) => this.report(error))
    this.#releasing.add(done)
    void done.finally(() => this.#releasing.delete(done))
  }

  // ---- running jobs ---------------------------------------------------------------------------

  #start(serverNow: number, fields: LeasedFields): void {
    const decoded = decodeLeased<T>(fields, serverNow, {
      queue: this.name,
      codec: this.#ctx.codec,
      defaultAttempts: this.#o.attempts,
      defaultBackoff: this.#o.backoff,
      store: (member, id, value) => this.#storeProgress(member, id, value),
      actions: this.#queue as Queue<unknown>,
    })
    if ('failure' in decoded) {
      // Malformed in Redis: no retry can fix it. Dead-letter it with the reason; the worker goes on.
      const { member, id, attemptsMade, failure } = decoded
      this.#finish({
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
    this.#running.set(entry.member, entry)
    this.emit('active', entry.job)
    this.#execute(entry).catch((error: unknown) => this.#settleFailed(entry, error))
  }

  /** The settle path itself threw (a bug, or stored data no check caught): report it, dead-letter the job, never end the process. */
  #settleFailed(entry: Running<T>, thrown: unknown): void {
    this.report(thrown)
    try {
      this.#done(entry, { kind: 'd', error: thrown instanceof Error ? thrown : new Error(describeError(thrown).message) })
    } catch (again) {
      this.report(again)
    }
  }

  async #execute(entry: Running<T>): Promise<void> {
    const { job } = entry
    let result: R
    try {
      const run = jobTracing.hasSubscribers
        ? jobTracing.tracePromise(async () => this.#handler(job), { queue: this.name, id: job.id, attemptsMade: job.attemptsMade })
        : Promise.resolve().then(() => this.#handler(job))
      result = await this.#withJobTimeout(entry, run)
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

  /** A handler that never settles must not hold its lease (and its slot) forever. */
  #withJobTimeout(entry: Running<T>, run: Promise<R>): Promise<R> {
    const ms = this.#o.jobTimeoutMs
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
    // A handler that settles after a timeout or after its lease was given back changes nothing.
    if (this.#running.get(entry.member) !== entry) return
    this.#running.delete(entry.member)
    if (this.#running.size === 0) for (const resolve of this.#handlersDone.splice(0)) resolve()
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

  #notifyFlushed(): void {
    if (this.#outcomes.length > 0 || this.#inflight || this.#resend) return
    for (const resolve of this.#flushed.splice(0)) resolve()
  }

  #whenFlushed(timeoutMs: number): Promise<void> {
    if (this.#outcomes.length === 0 && !this.#inflight && !this.#resend) return Promise.resolve()
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
  override close({ timeoutMs }: { timeoutMs?: number } = {}): Promise<void> {
    if (timeoutMs !== undefined && this.state === 'open') this.#closeTimeoutMs = timeoutMs
    return super.close()
  }

  protected override async teardown(): Promise<void> {
    this.#idle.close()
    if (this.#started) {
      const deadline = Date.now() + this.#closeTimeoutMs
      await waitForHandlers(
        () => this.#running.size,
        (resolve) => this.#handlersDone.push(resolve),
        deadline,
      )
      const left = [...this.#running.values()].filter((e) => !e.lost)
      for (const entry of left) {
        entry.released = true
        entry.job.abort(new RedkitError(ErrorCodes.E_CLOSED, `worker closed before job ${entry.job.id} finished; the job was given back`))
      }
      if (left.length > 0) this.#release(left.map((e) => e.member))
      await this.#whenFlushed(Math.max(1000, deadline - Date.now()))
      await Promise.all([...this.#releasing])
    }
    this.#renewal.stop()
    // Leaves the registry at once (bounded: an unreachable Redis lets the entry go stale instead).
    await withTimeout(this.#beat.stop(), 1000, () => undefined)
    clearTimeout(this.#retryTimer)
    this.emit('closed')
  }
}
