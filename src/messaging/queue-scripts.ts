import { defineScript, type ScriptArg } from '../core/scripts.js'

/** Typed handles on the queue's Lua scripts (src/lua/queue-*.lua); each header documents KEYS, ARGV and the reply. */

type AddKeys = [
  ready: string,
  prioritized: string,
  delayed: string,
  wake: string,
  prioritySequence: string,
  delayedPriorities: string,
  schedules: string,
  scheduleNext: string,
  jobPrefix: string,
]
export const addScript = defineScript<AddKeys, [now: number, count: number, ...perJob: ScriptArg[]], number[]>('queue-add')

type NextKeys = [
  ready: string,
  prioritized: string,
  delayed: string,
  active: string,
  completed: string,
  dead: string,
  wake: string,
  meta: string,
  limiter: string,
  prioritySequence: string,
  delayedPriorities: string,
  jobPrefix: string,
]
type NextArgs = [
  leaseMs: number,
  wanted: number,
  tokenPrefix: string,
  promote: 0 | 1,
  recover: 0 | 1,
  woke: 0 | 1,
  limitMax: number,
  limitMs: number,
  keepCompleted: number,
  trim: 0 | 1,
  defaultAttempts: number,
  outcomeCount: number,
  ...outcomes: ScriptArg[],
]
export type NextReply = [
  now: number,
  nextDelayed: number,
  idleWake: number,
  leased: Array<string | null>,
  statuses: number[],
  recovered: number,
  recoveredDead: string[],
]
export const nextScript = defineScript<NextKeys, NextArgs, NextReply>('queue-next')

export const extendScript = defineScript<[active: string], [leaseMs: number, ...members: string[]], number[]>('queue-extend')
export const progressScript = defineScript<[active: string, job: string], [member: string, progress: string], number>('queue-progress')

type ReleaseKeys = [active: string, ready: string, prioritized: string, prioritySequence: string, wake: string, jobPrefix: string]
export const releaseScript = defineScript<ReleaseKeys, string[], number>('queue-release')

type GetKeys = [job: string, ready: string, prioritized: string, delayed: string, completed: string, dead: string]
export const getScript = defineScript<GetKeys, [id: string], [state: string, fields: string[]] | null>('queue-get')

type CountKeys = [ready: string, prioritized: string, delayed: string, active: string, completed: string, dead: string, meta: string]
export const countsScript = defineScript<CountKeys, [], number[]>('queue-counts')

export const pauseScript = defineScript<[meta: string, ready: string, prioritized: string, wake: string], [pause: 0 | 1], number>(
  'queue-pause',
)

type RetryDeadKeys = [dead: string, ready: string, prioritized: string, prioritySequence: string, wake: string, jobPrefix: string]
export const retryDeadScript = defineScript<RetryDeadKeys, [limit: number, ...ids: string[]], number>('queue-retry-dead')

export const cleanScript = defineScript<[finished: string, jobPrefix: string], [cutoff: number | string, limit: number], number>(
  'queue-clean',
)

type DrainKeys = [
  ready: string,
  prioritized: string,
  delayed: string,
  delayedPriorities: string,
  schedules: string,
  scheduleDefinitions: string,
  scheduleNext: string,
  jobPrefix: string,
]
export const drainScript = defineScript<DrainKeys, [delayed: 0 | 1, batch: number], number>('queue-drain')
export const cancelScript = defineScript<DrainKeys, [jobId: string, scheduleId: string], [job: number, schedule: number]>('queue-cancel')

type ScheduleKeys = [
  schedules: string,
  scheduleDefinitions: string,
  scheduleNext: string,
  ready: string,
  prioritized: string,
  delayed: string,
  delayedPriorities: string,
  wake: string,
  jobPrefix: string,
]
type ScheduleArgs = [
  scheduleId: string,
  version: string,
  definition: string,
  jobId: string,
  data: string,
  options: string,
  priority: number,
  dueAt: number,
  now: number,
]
export const scheduleScript = defineScript<ScheduleKeys, ScheduleArgs, 0 | 1 | 2>('queue-schedule')
