import type { KeySpace } from '../core/keys.js'

/**
 * Every key of one queue: `<prefix>:{<queue>}:q:<part>`. They share the hash tag `{<queue>}`, so a
 * queue lives in one Cluster slot and every script touches one slot.
 */
export interface QueueKeys {
  readonly name: string
  /** list of ready job ids, FIFO */
  readonly ready: string
  /** zset of ready prioritized job ids (score priority * 2^32 + sequence) */
  readonly prioritized: string
  /** zset of delayed job ids (score due time, ms) */
  readonly delayed: string
  /** zset of leases, member `<token>:<id>`, score lease deadline (server clock, ms) */
  readonly active: string
  /** zset of completed job ids (score finish time) */
  readonly completed: string
  /** zset of dead-lettered job ids (score finish time) */
  readonly dead: string
  /** list of wake-up markers idle workers block on */
  readonly wake: string
  /** hash: paused */
  readonly meta: string
  /** rate limiter window counter */
  readonly limiter: string
  /** counter giving prioritized jobs a FIFO order within one priority */
  readonly prioritySequence: string
  /** hash: priority of delayed prioritized jobs (id -> priority) */
  readonly delayedPriorities: string
  /** hash: schedule id -> version */
  readonly schedules: string
  /** hash: schedule id -> definition JSON */
  readonly scheduleDefinitions: string
  /** hash: schedule id -> id of its pending occurrence */
  readonly scheduleNext: string
  /** zset: schedules whose next occurrence is to be added (score: since when, server ms) */
  readonly scheduleAdvance: string
  /** hash: worker id -> '<last seen> <started> <beat ms> <info JSON>', the registry of live workers */
  readonly workers: string
  /** a worker's record of its last call (for a resend after a lost reply) is this prefix followed by its id */
  readonly callPrefix: string
  /** a job's hash is this prefix followed by its id */
  readonly jobPrefix: string
  job(id: string): string
}

export function queueKeys(keys: KeySpace, name: string): QueueKeys {
  const k = keys.object(name)
  const jobPrefix = `${k('q', 'job')}:`
  return {
    name,
    ready: k('q', 'ready'),
    prioritized: k('q', 'prioritized'),
    delayed: k('q', 'delayed'),
    active: k('q', 'active'),
    completed: k('q', 'completed'),
    dead: k('q', 'dead'),
    wake: k('q', 'wake'),
    meta: k('q', 'meta'),
    limiter: k('q', 'limiter'),
    prioritySequence: k('q', 'pseq'),
    delayedPriorities: k('q', 'dprio'),
    schedules: k('q', 'sched'),
    scheduleDefinitions: k('q', 'schedDefs'),
    scheduleNext: k('q', 'schedNext'),
    scheduleAdvance: k('q', 'schedAdv'),
    workers: k('q', 'workers'),
    callPrefix: `${k('q', 'call')}:`,
    jobPrefix,
    job: (id: string) => jobPrefix + id,
  }
}

/** The glob matching every key of the queue (for `destroy`). */
export function queuePattern(keys: KeySpace, name: string): string {
  return keys.pattern(name).replace(/\*$/, 'q:*')
}
