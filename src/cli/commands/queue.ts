import type { JobCounts } from '../../messaging/index.js'
import { createRedkit, type Redkit } from '../../redkit.js'
import { type CommandSpec, positiveInteger, timeoutOption } from '../args.js'
import { exit, fail, redisTarget } from '../output.js'

export const DEFAULT_QUEUE_URL = 'redis://127.0.0.1:6379'

interface QueueFlags {
  redisUrl?: string
  cluster?: boolean
  prefix: string
  json?: boolean
  timeout: number
  limit?: number
  delayed?: boolean
}

/**
 * `redkit queue <name> stats|retry|drain`: job counts and the latest dead letters; dead letters back
 * to the queue; waiting (and with --delayed, delayed and scheduled) jobs deleted.
 * Exit codes: 0 done, 1 could not run (bad name, unreachable Redis).
 */
export const queueCommand: CommandSpec<QueueFlags> = {
  name: 'queue',
  summary: 'inspect and operate a redkit queue: stats, retry dead letters, drain waiting jobs',
  positionals: [
    { name: 'name', help: 'queue name' },
    { name: 'action', help: 'what to do', choices: ['stats', 'retry', 'drain'] },
  ],
  options: {
    redisUrl: { type: 'string', value: 'url', help: `Redis of the queue (default: $REDIS_URL, else ${DEFAULT_QUEUE_URL})` },
    cluster: { type: 'boolean', help: 'the URL is a Cluster seed node (several may be given, comma-separated)' },
    prefix: { type: 'string', value: 'prefix', help: 'key prefix of the application (default: rk)', default: 'rk' },
    limit: {
      type: 'string',
      value: 'n',
      help: 'retry: at most this many dead letters (default: all); stats: dead letters shown (default 5)',
      parse: positiveInteger,
    },
    delayed: { type: 'boolean', help: 'drain: delayed jobs and repeating schedules too' },
    json: { type: 'boolean', help: 'print JSON' },
    timeout: timeoutOption(5000),
  },
  epilog: 'Active jobs are never touched: they finish or are recovered by workers.\nExit codes: 0 done, 1 could not run.',
  usageExitCode: 1,
  run: ([name, action], flags) => runQueue(name as string, action as 'stats' | 'retry' | 'drain', flags),
}

async function runQueue(name: string, action: 'stats' | 'retry' | 'drain', flags: QueueFlags): Promise<void> {
  const { connection, secrets } = redisTarget(flags, DEFAULT_QUEUE_URL)
  let rk: Redkit
  try {
    rk = await createRedkit({
      ...connection,
      prefix: flags.prefix,
      connectTimeoutMs: flags.timeout,
    })
  } catch (error) {
    return fail('queue', error, 1, secrets)
  }
  try {
    const queue = rk.queue(name)
    let output: string
    if (action === 'stats') {
      const [counts, dead] = [await queue.counts(), await queue.jobIds('dead', { limit: flags.limit ?? 5 })]
      const letters = await Promise.all(
        dead.map(async (id) => {
          const job = await queue.getJob(id).catch(() => null)
          return { id, error: job?.error?.message ?? '(unreadable)', attemptsMade: job?.attemptsMade ?? 0, finishedAt: job?.finishedAt }
        }),
      )
      output = flags.json ? JSON.stringify({ queue: name, ...counts, deadLetters: letters }, null, 2) : formatStats(name, counts, letters)
    } else if (action === 'retry') {
      const moved = await queue.retryDead(flags.limit ? { limit: flags.limit } : { limit: Number.MAX_SAFE_INTEGER })
      output = flags.json
        ? JSON.stringify({ queue: name, retried: moved })
        : `${name}: ${moved} dead letter${moved === 1 ? '' : 's'} moved back to the queue`
    } else {
      const removed = await queue.drain({ delayed: flags.delayed ?? false })
      output = flags.json
        ? JSON.stringify({ queue: name, drained: removed })
        : `${name}: ${removed} ${flags.delayed ? 'waiting and delayed' : 'waiting'} job${removed === 1 ? '' : 's'} deleted`
    }
    await rk.close().catch(() => {})
    process.stdout.write(`${output}\n`)
    return exit(0)
  } catch (error) {
    await rk.close().catch(() => {})
    return fail('queue', error, 1, secrets)
  }
}

function formatStats(
  name: string,
  counts: JobCounts,
  letters: Array<{ id: string; error: string; attemptsMade: number; finishedAt?: number | undefined }>,
): string {
  const rows: Array<[string, string]> = [
    ['waiting', `${counts.waiting}${counts.prioritized > 0 ? ` (${counts.prioritized} prioritized)` : ''}`],
    ['delayed', String(counts.delayed)],
    ['active', String(counts.active)],
    ['completed', String(counts.completed)],
    ['dead', String(counts.dead)],
    ['paused', counts.paused ? 'yes' : 'no'],
  ]
  const lines = [`queue ${name}`, ...rows.map(([k, v]) => `  ${k.padEnd(10)} ${v}`)]
  if (letters.length > 0) {
    lines.push('', `oldest dead letters (${letters.length} of ${counts.dead}):`)
    for (const l of letters) {
      const when = l.finishedAt ? new Date(l.finishedAt).toISOString() : '?'
      lines.push(
        `  ${l.id}  ${when}  after ${l.attemptsMade} attempt${l.attemptsMade === 1 ? '' : 's'}: ${l.error.replace(/\s+/g, ' ').slice(0, 200)}`,
      )
    }
  }
  return lines.join('\n')
}
