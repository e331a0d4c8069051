import { hostname } from 'node:os'
import type { MessagingContext } from './context.js'
import type { QueueKeys } from './queue-keys.js'
import { workerBeatScript, workersScript } from './queue-scripts.js'

/** A live worker of a queue, in any process (`queue.workers()`). */
export interface QueueWorker {
  /** The worker's id (`worker.id`). */
  id: string
  host: string
  pid: number
  concurrency: number
  /** The job names it has handlers for; empty for a single handler (every job). */
  names: string[]
  /** Its first heartbeat, server clock (epoch ms). */
  startedAt: number
  /** Its last heartbeat, server clock (epoch ms). */
  lastSeenAt: number
  /** How often it beats; it counts as gone after 3 beats missed. */
  heartbeatMs: number
}

/** At most this many registry entries are read by one `workers()` call. */
const MAX_LISTED = 10_000

/**
 * A worker's entry in its queue's registry: a beat on start and every `heartbeatMs`, removed on
 * close. A worker that dies (SIGKILL, lost machine) stops beating: its entry is left out of the
 * list after 3 missed beats and deleted by the next beat or listing of any worker of the queue.
 */
export class WorkerBeat {
  readonly #ctx: MessagingContext
  readonly #keys: QueueKeys
  readonly #id: string
  readonly #beatMs: number
  readonly #info: string
  readonly #report: (error: unknown) => void
  #timer: NodeJS.Timeout | undefined
  #beating: Promise<unknown> | undefined

  constructor(
    ctx: MessagingContext,
    keys: QueueKeys,
    worker: { id: string; concurrency: number; names: string[]; heartbeatMs: number },
    report: (error: unknown) => void,
  ) {
    this.#ctx = ctx
    this.#keys = keys
    this.#id = worker.id
    this.#beatMs = worker.heartbeatMs
    this.#info = JSON.stringify({ host: hostname(), pid: process.pid, concurrency: worker.concurrency, names: worker.names })
    this.#report = report
  }

  start(): void {
    if (this.#timer) return
    this.#beat()
    this.#timer = setInterval(() => this.#beat(), this.#beatMs)
    this.#timer.unref()
  }

  /** Stops beating and removes the entry (best effort: a beat in flight is waited for first). */
  async stop(): Promise<void> {
    if (!this.#timer) return
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#beating
    await this.#ctx.connection.send(['HDEL', this.#keys.workers, this.#id], { key: this.#keys.workers }).catch(() => {})
  }

  #beat(): void {
    // One beat at a time: a slow Redis must not pile them up.
    if (this.#beating) return
    this.#beating = workerBeatScript
      .call(this.#ctx.connection, this.#keys, [this.#id, this.#beatMs, this.#info])
      .catch((error: unknown) => this.#report(error))
      .finally(() => {
        this.#beating = undefined
      })
  }
}

/** The live workers of a queue, oldest first; stale and unreadable entries are dropped on the way. */
export async function listWorkers(ctx: MessagingContext, keys: QueueKeys): Promise<QueueWorker[]> {
  const entries = await workersScript.call(ctx.connection, keys, [MAX_LISTED])
  const workers: QueueWorker[] = []
  for (let i = 0; i + 1 < entries.length; i += 2) {
    const worker = parseEntry(String(entries[i]), String(entries[i + 1]))
    if (worker) workers.push(worker)
  }
  return workers.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1))
}

/** One registry entry; undefined for one redkit did not write (planted data is skipped, not thrown). */
export function parseEntry(id: string, entry: string): QueueWorker | undefined {
  const match = /^(\d+) (\d+) (\d+) (.*)$/s.exec(entry)
  if (!match) return undefined
  let info: unknown
  try {
    info = JSON.parse(match[4] as string)
  } catch {
    return undefined
  }
  if (info === null || typeof info !== 'object') return undefined
  const { host, pid, concurrency, names } = info as Record<string, unknown>
  if (typeof host !== 'string' || !Number.isSafeInteger(pid) || !Number.isSafeInteger(concurrency)) return undefined
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return undefined
  return {
    id,
    host,
    pid: pid as number,
    concurrency: concurrency as number,
    names: names as string[],
    startedAt: Number(match[2]),
    lastSeenAt: Number(match[1]),
    heartbeatMs: Number(match[3]),
  }
}
