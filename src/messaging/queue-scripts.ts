import { defineKeyedScript, type ScriptArg } from '../core/scripts.js'
import type { QueueKeys } from './queue-keys.js'

/**
 * Typed handles on the queue's Lua scripts (src/lua/queue-*.lua); each header documents KEYS,
 * ARGV and the reply, and names each KEYS entry after a QueueKeys field: `handle.call(conn, k,
 * args)` builds KEYS from the header, so no call site orders keys by hand.
 */

/** The keys of one job's scripts: the queue's keys plus that job's hash. */
export type JobScriptKeys = QueueKeys & { readonly jobKey: string }

/** QueueKeys with the hash of job `id` as `jobKey`. */
export function withJob(k: QueueKeys, id: string): JobScriptKeys {
  return { ...k, jobKey: k.job(id) }
}

export const addScript = defineKeyedScript<QueueKeys, [now: number, count: number, ...perJob: ScriptArg[]], number[]>('queue-add')

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
  /** 0 = not now, else '<completed age ms>:<dead kept>:<dead age ms>' (see queue-next) */
  trim: 0 | string,
  maxStalls: number,
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
  advances: string[],
  missing: string[],
]
export const nextScript = defineKeyedScript<QueueKeys, NextArgs, NextReply>('queue-next')

export const extendScript = defineKeyedScript<QueueKeys, [leaseMs: number, ...members: string[]], number[]>('queue-extend')
export const progressScript = defineKeyedScript<JobScriptKeys, [member: string, progress: string], number>('queue-progress')
export const releaseScript = defineKeyedScript<QueueKeys, string[], number>('queue-release')
export const delayScript = defineKeyedScript<QueueKeys, [id: string, dueAt: number], number>('queue-delay')
export const priorityScript = defineKeyedScript<JobScriptKeys, [id: string, priority: number], number>('queue-priority')
export const updateScript = defineKeyedScript<JobScriptKeys, [data: string], number>('queue-update')
export const logScript = defineKeyedScript<JobScriptKeys, [line: string, keep: number], number>('queue-log')
export const logsScript = defineKeyedScript<
  JobScriptKeys,
  [keep: number, offset: number, limit: number],
  [count: number, ...lines: string[]]
>('queue-logs')
export const getScript = defineKeyedScript<JobScriptKeys, [id: string], [state: string, fields: string[]] | null>('queue-get')
export const countsScript = defineKeyedScript<QueueKeys, [], number[]>('queue-counts')
export const pauseScript = defineKeyedScript<QueueKeys, [pause: 0 | 1], number>('queue-pause')
export const retryDeadScript = defineKeyedScript<QueueKeys, [limit: number, ...ids: string[]], number>('queue-retry-dead')

/** `finished` is the completed or the dead zset. */
export const cleanScript = defineKeyedScript<{ finished: string; jobPrefix: string }, [cutoff: number | string, limit: number], number>(
  'queue-clean',
)

export const drainScript = defineKeyedScript<QueueKeys, [delayed: 0 | 1, batch: number], number>('queue-drain')
export const cancelScript = defineKeyedScript<QueueKeys, [jobId: string, scheduleId: string], [job: number, schedule: number]>(
  'queue-cancel',
)

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
/** change: 0 unchanged, 1 created or replaced, 2 repaired; firstExists: 1 when the first occurrence already existed. */
export const scheduleScript = defineKeyedScript<QueueKeys, ScheduleArgs, [change: 0 | 1 | 2, firstExists: 0 | 1]>('queue-schedule')
export const workerBeatScript = defineKeyedScript<QueueKeys, [workerId: string, beatMs: number, info: string], number>('queue-worker-beat')
export const workersScript = defineKeyedScript<QueueKeys, [limit: number], string[]>('queue-workers')
