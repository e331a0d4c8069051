import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { Job } from './job.js'

/** What a handler's job does through its queue. */
export interface JobActions<T> {
  store(progress: unknown): Promise<boolean>
  log(line: string): Promise<number>
  update(data: T): Promise<boolean>
}

/** The job object handed to a handler, bound to one lease. */
export class ActiveJob<T> implements Job<T> {
  readonly id: string
  readonly name: string | undefined
  readonly queue: string
  #data: T
  readonly attemptsMade: number
  readonly attempts: number
  readonly createdAt: number
  readonly startedAt: number
  readonly progress: unknown
  readonly #abort = new AbortController()
  readonly #actions: JobActions<T>

  constructor(fields: Omit<Job<T>, 'signal' | 'updateProgress' | 'log' | 'updateData'>, actions: JobActions<T>) {
    this.id = fields.id
    this.name = fields.name
    this.queue = fields.queue
    this.#data = fields.data
    this.attemptsMade = fields.attemptsMade
    this.attempts = fields.attempts
    this.createdAt = fields.createdAt
    this.startedAt = fields.startedAt
    this.progress = fields.progress
    this.#actions = actions
  }

  get data(): T {
    return this.#data
  }

  log(line: string): Promise<number> {
    return this.#actions.log(line)
  }

  async updateData(data: T): Promise<void> {
    if (!(await this.#actions.update(data))) throw new RedkitError(ErrorCodes.E_JOB_LOST, `job ${this.id}: its record is gone`)
    this.#data = data
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }

  /** Aborts the job's signal (lease lost, worker closing). */
  abort(reason: RedkitError): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason)
  }

  async updateProgress(progress: unknown): Promise<void> {
    if (this.#abort.signal.aborted && isLost(this.#abort.signal.reason)) throw this.#abort.signal.reason
    if (!(await this.#actions.store(progress))) {
      const lost = new RedkitError(ErrorCodes.E_JOB_LOST, `job ${this.id}: the lease is gone (another delivery owns the job now)`)
      this.abort(lost)
      throw lost
    }
  }
}

function isLost(reason: unknown): boolean {
  return reason instanceof RedkitError && reason.code === ErrorCodes.E_JOB_LOST
}
