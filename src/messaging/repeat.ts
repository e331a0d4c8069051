import { createHash } from 'node:crypto'
import { type CronExpression, parseCron } from './cron.js'
import type { StoredRepeat } from './options.js'

const crons = new Map<string, CronExpression>()

function cronOf(expression: string, timeZone: string | undefined): CronExpression {
  const key = `${timeZone ?? 'UTC'}\u0000${expression}`
  let cron = crons.get(key)
  if (!cron) {
    cron = parseCron(expression, timeZone)
    if (crons.size > 1000) crons.clear()
    crons.set(key, cron)
  }
  return cron
}

/**
 * The first due time of a schedule strictly after `after` (epoch ms), or undefined when it has ended.
 * Interval schedules fall on `startAt + k * every`: every process computes the same times, so
 * occurrences added by several processes share their ids and are added once.
 */
export function nextOccurrence(repeat: StoredRepeat, after: number): number | undefined {
  let next: number | undefined
  if (repeat.e !== undefined) {
    const start = repeat.sa ?? 0
    next = after < start ? start : start + (Math.floor((after - start) / repeat.e) + 1) * repeat.e
  } else if (repeat.c !== undefined) {
    // startAt bounds a cron schedule too: its first run is the first match at or after it.
    next = cronOf(repeat.c, repeat.z).next(repeat.sa !== undefined && repeat.sa > after ? repeat.sa - 1 : after)
  }
  if (next === undefined || (repeat.ea !== undefined && next > repeat.ea)) return undefined
  return next
}

/** The id of a schedule's occurrence due at `dueAt`. */
export function occurrenceId(scheduleId: string, dueAt: number): string {
  return `${scheduleId}@${dueAt}`
}

/** The due time encoded in an occurrence id. */
export function occurrenceDue(jobId: string): number | undefined {
  const at = jobId.lastIndexOf('@')
  if (at === -1) return undefined
  const due = Number(jobId.slice(at + 1))
  return Number.isSafeInteger(due) ? due : undefined
}

/** A schedule definition as stored by `rk.scheduler.repeat` (the job template came with issue 11). */
export interface StoredDefinition {
  job?: { d: string; o: string; p: number }
  [field: string]: unknown
}

/**
 * A stored schedule definition, or undefined when the text is not a JSON object (planted, or
 * damaged): one such entry must not hide the other schedules from a listing or stop their advance.
 */
export function parseDefinition(text: string): StoredDefinition | undefined {
  try {
    const value = JSON.parse(text) as unknown
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as StoredDefinition) : undefined
  } catch {
    return undefined
  }
}

/** A short version of a schedule definition: identical definitions (from any process) get the same one. */
export function scheduleVersion(definition: unknown): string {
  return createHash('sha1').update(JSON.stringify(definition)).digest('hex').slice(0, 16)
}
