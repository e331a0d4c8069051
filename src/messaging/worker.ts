import { withTimeout } from '../core/async.js'
import { backoffDelay } from '../core/backoff.js'
import { EmitterComponent } from '../core/component.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { MessagingContext } from './context.js'
import { IdleWaiter } from './idle-waiter.js'
import { newWorkerId } from './ids.js'
import { describeError } from './job.js'
import { Queue } from './queue.js'
import { type NextReply, nextScript } from './queue-scripts.js'
import { checkEviction } from './server-check.js'
import { RunningJobs } from './worker-execute.js'
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
import { CallPacer, type Passes } from './worker-pacing.js'
import { WorkerBeat } from './worker-registry.js'
import { LeaseRenewal } from './worker-renewal.js'
import { advanceSchedules } from './worker-schedules.js'
import { releaseLeases } from './worker-shutdown.js'
import type { LeasedFields } from './worker-start.js'

export { type JobTraceContext, jobTracing } from './worker-execute.js'
export type { JobHandler, JobHandlers, WorkerEvents, WorkerOptions } from './worker-options.js'

const warned = new Set<string>()

/** A process warning (once per message), as BullMQ prints for an eviction policy. */
function warnOnce(problem: RedkitError): void {
  if (warned.has(problem.message)) return
  warned.add(problem.message)
  process.emitWarning(problem.message, { code: problem.code })
}

const MAX_BATCH = 500
const ERROR_BACKOFF = { delayMs: 50, maxDelayMs: 2000, jitter: 0.3 }

/** One `queue-next` call: kept whole after a failure, and sent again as is (same token prefix). */
interface Call<T, R> {
  args: Parameters<typeof nextScript.call>[2]
  wanted: number
  outcomes: Array<Outcome<T, R>>
  passes: Passes
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
  readonly #o: ResolvedWorkerOptions
  readonly #idle: IdleWaiter
  readonly #renewal: LeaseRenewal
  readonly #beat: WorkerBeat
  readonly #pacer: CallPacer
  readonly #jobs: RunningJobs<T, R>
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
  #closeTimeoutMs: number
  #flushed: Array<() => void> = []
  readonly #releasing = new Set<Promise<unknown>>()

  constructor(ctx: MessagingContext, name: string, handler: JobHandler<T, R> | JobHandlers<T, R>, options: WorkerOptions = {}) {
    const run = handlerOf(handler)
    const queue = new Queue<T>(ctx, name, options)
    const resolved = resolveWorkerOptions(options)
    super({ name: queue.name, kind: 'worker', host: ctx })
    this.#ctx = ctx
    this.#queue = queue
    this.#o = resolved
    this.#closeTimeoutMs = resolved.closeTimeoutMs
    this.#pacer = new CallPacer(resolved)
    this.#jobs = new RunningJobs(ctx, queue, run, resolved, {
      active: (job) => this.emit('active', job),
      lost: (job) => {
        this.emit('lost', job)
        this.#pump()
      },
      finished: (delivery) => this.#finish(delivery),
      report: (error) => this.report(error),
    })
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
      () => this.#jobs.values(),
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
    return this.#jobs.size
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
    return this.#started && !this.closed ? Math.max(0, this.#o.concurrency - this.#jobs.size) : 0
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
          this.#pacer.replied(call.passes, call.at, reply[0], reply[1])
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
    const passes = this.#pacer.plan(wanted, this.#force, now)
    const { promote, recover, trim } = passes
    if (this.#outcomes.length === 0 && wanted === 0 && !recover) return undefined
    const outcomes = this.#outcomes.splice(0, MAX_BATCH)
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
    return { args, wanted, outcomes, passes, at: now }
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
    const [serverNow, , idleWake, leased, statuses, recovered, recoveredDead, advances = [], missing = []] = reply
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
    for (const fields of batch) this.#jobs.start(serverNow, fields)
    const idle = wanted > 0 && batch.length < wanted
    if (this.#idle.set(idle, idle ? idleWake : -1, serverNow)) this.emit('drained')
  }

  #settled(outcome: Outcome<T, R>, status: number): void {
    if (status === 0) {
      if (outcome.job) this.emit('lost', outcome.job)
      return
    }
    if (outcome.kind === 'c') {
      this.#pacer.finished('c')
      if (outcome.job) this.emit('completed', outcome.job, outcome.result as R)
    } else if (outcome.kind === 'r') {
      if (outcome.job) this.emit('failed', outcome.job, outcome.error as Error, outcome.retryInMs ?? 0)
    } else {
      this.#pacer.finished('d')
      this.emit('dead', outcome.id, outcome.error as Error, outcome.job)
    }
  }

  #release(members: string[]): void {
    const done = releaseLeases(this.#ctx, this.#queue.keys, members).catch((error: unknown) => this.report(error))
    this.#releasing.add(done)
    void done.finally(() => this.#releasing.delete(done))
  }

  #finish(delivery: FinishedDelivery<T, R>): void {
    this.#outcomes.push(toOutcome(delivery))
    // Settle everything that finishes in this turn of the event loop with one script call.
    if (this.#outcomes.length === 1) setImmediate(() => this.#pump())
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
      await this.#jobs.whenIdle(deadline)
      const left = this.#jobs.giveBack()
      if (left.length > 0) this.#release(left)
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
