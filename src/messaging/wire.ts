/**
 * What the queue stores in Redis, named once. The Lua scripts (src/lua/queue-*.lua) use the same
 * one-letter names; a change here is a change of the stored format and needs both sides.
 */

/** Fields of a job's hash (`<prefix>:{<queue>}:q:job:<id>`). */
export const JobField = {
  /** encoded data */
  data: 'd',
  /** stored options JSON (see StoredOption) */
  options: 'o',
  /** created at, epoch ms (the adding client's clock) */
  created: 't',
  /** priority (absent = 0) */
  priority: 'p',
  /** failed attempts so far */
  attemptsMade: 'a',
  /** last error, 'CODE message' */
  error: 'e',
  /** last error details JSON { code, name, stack } */
  errorDetails: 'x',
  /** start of the last delivery, ms (server clock) */
  started: 's',
  /** finished (completed or dead-lettered), ms (server clock) */
  finished: 'f',
  /** token of the lease that settled it (recognises a settlement sent twice) */
  token: 'k',
  /** encoded result */
  result: 'r',
  /** encoded progress */
  progress: 'g',
  /** expired leases so far (stalls; counted apart from attempts) */
  stalls: 'l',
  /** '1' while the job is leased (active), else '0' or absent: getJob reads the state from it, never scanning the ready list */
  leased: 'w',
  /** log lines written so far (the lines are fields `L<n>`, n from 1; only the newest LOG_LINES_KEPT stay) */
  logCount: '#',
  /** prefix of a log line's field: `L1`, `L2`, ... */
  logLine: 'L',
} as const

/** Keys of the stored options JSON (field `o`); only what differs from the defaults is stored. */
export const StoredOption = {
  /** attempts */
  attempts: 'at',
  /** backoff { t: 'f' | 'e', d: delay, m: max, j: jitter } */
  backoff: 'bo',
  /** the repeating schedule this job is an occurrence of (StoredRepeat) */
  repeat: 'rp',
  /** the job's name */
  name: 'nm',
} as const

/** Keys of a StoredRepeat (inside `rp`). */
export const RepeatField = {
  /** schedule id */
  schedule: 's',
  /** version of the definition */
  version: 'v',
  /** cron expression */
  cron: 'c',
  /** time zone of the cron expression */
  timeZone: 'z',
  /** interval, ms */
  every: 'e',
  /** start: first possible run, and phase of the interval */
  startAt: 'sa',
  /** end: no occurrence after this, ms */
  endAt: 'ea',
} as const

/** Outcome kinds a worker sends to `queue-next`. */
export const OutcomeKind = { completed: 'c', retry: 'r', dead: 'd' } as const

/** Statuses `queue-next` answers per outcome. */
export const SettleStatus = { lost: 0, settled: 1, alreadySettled: 2 } as const

/** Meta hash fields of a queue. */
export const MetaField = { paused: 'paused' } as const
