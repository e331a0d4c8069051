import { describeError } from './job.js'
import type { ActiveJob } from './worker-job.js'

/** A finished delivery waiting to be settled by the next `queue-next` call. */
export interface Outcome<T, R> {
  /** the lease: '<token>:<id>' */
  member: string
  /** c completed, r retry, d dead letter */
  kind: 'c' | 'r' | 'd'
  /** encoded result (c) or 'CODE message' (r, d) */
  payload: string
  /** error details JSON (r, d) */
  details: string
  startedAt: number
  attemptsMade: number
  /** '<retry delay>:<priority>' (r) */
  spec: string
  id: string
  job: ActiveJob<T> | undefined
  result?: R
  error?: Error
  retryInMs?: number
}

export interface FinishedDelivery<T, R> {
  member: string
  id: string
  job: ActiveJob<T> | undefined
  kind: 'c' | 'r' | 'd'
  payload?: string | undefined
  result?: R | undefined
  error?: Error | undefined
  retryInMs?: number | undefined
  startedAt: number
  attemptsMade: number
  spec: string
}

/** Turns a finished delivery into what the settle script stores (errors as 'CODE message' plus JSON details). */
export function toOutcome<T, R>(o: FinishedDelivery<T, R>): Outcome<T, R> {
  let payload = o.payload ?? ''
  let details = ''
  if (o.kind !== 'c') {
    const described = describeError(o.error)
    payload = described.code ? `${described.code} ${described.message}` : described.message
    details = described.details
  }
  return {
    member: o.member,
    kind: o.kind,
    payload,
    details,
    startedAt: o.startedAt,
    attemptsMade: o.attemptsMade,
    spec: o.spec,
    id: o.id,
    job: o.job,
    ...(o.result !== undefined ? { result: o.result } : {}),
    ...(o.error !== undefined ? { error: o.error } : {}),
    ...(o.retryInMs !== undefined ? { retryInMs: o.retryInMs } : {}),
  }
}

/** The flat ARGV tail of `queue-next` for a batch of outcomes (7 values each). */
export function outcomeArgs(outcomes: ReadonlyArray<Outcome<unknown, unknown>>): Array<string | number> {
  const args: Array<string | number> = []
  for (const o of outcomes) args.push(o.member, o.kind, o.payload, o.details, o.startedAt, o.attemptsMade, o.spec)
  return args
}
