import { isRedkitError, type Redkit } from '../../src/index.js'
import { sleep } from './wait.js'

/**
 * Every module at once, as an application drives them, for the chaos tests (issue 16 item 4): each
 * lane loops on one module's core operation, retries nothing itself, and records when it last and
 * next succeeded, so a test can say how long each workload stalled around a fault and what was lost.
 */
export const LANES = ['events', 'queue', 'lock', 'cache', 'session', 'stats'] as const
export type Lane = (typeof LANES)[number]

export interface LaneReport {
  ok: number
  /** Typed errors (code and time relative to the mark), and anything that was not a RedkitError. */
  typed: string[]
  raw: string[]
  /** Times (ms since epoch) of every success, in order. */
  okAt: number[]
}

export interface WorkloadReport {
  lanes: Record<Lane, LaneReport>
  /** Acknowledged expirations never delivered, acknowledged jobs never run, jobs run twice. */
  lostExpirations: string[]
  lostJobs: number[]
  duplicateJobs: number[]
  /** Two holders inside the lock at once while neither had been told it lost the lock. */
  lockOverlaps: number
  /** Fencing tokens that did not increase from one hold to the next. */
  tokenRegressions: number
  /** Reads that did not return the value the same lane had just written (read-your-writes). */
  staleReads: number
  /** Acknowledged leaderboard increments, and the score Redis holds at the end. */
  leaderboard: { acked: number; attempted: number; score: number }
}

export interface Workload {
  /** Sets the instant errors and resume times are measured from (the fault). */
  mark(): void
  /** How long after `at` each lane first succeeded again (NaN when it never did). */
  resumedAfter(at: number): Record<Lane, number>
  /** Stops the lanes, waits for acknowledged work to be delivered (up to `settleMs`), and reports. */
  stop(settleMs?: number): Promise<WorkloadReport>
}

export async function startWorkload(rk: Redkit, name: string, { pauseMs = 20 } = {}): Promise<Workload> {
  let stopped = false
  let markedAt = Number.POSITIVE_INFINITY
  const lanes = Object.fromEntries(LANES.map((lane) => [lane, { ok: 0, typed: [], raw: [], okAt: [] } as LaneReport])) as Record<
    Lane,
    LaneReport
  >
  const record = (lane: Lane, error?: unknown) => {
    const report = lanes[lane]
    if (error === undefined) {
      report.ok++
      report.okAt.push(Date.now())
    } else if (isRedkitError(error)) report.typed.push(`${error.code} at +${Date.now() - markedAt} ms`)
    else report.raw.push(String(error).slice(0, 200))
  }

  const delivered = new Set<string>()
  const expirySub = await rk.expirations.on(`${name}:exp:*`, (e) => void delivered.add(e.key))
  const runs = new Map<number, number>()
  const worker = rk.worker<{ n: number }>(`${name}-jobs`, async (job) => void runs.set(job.data.n, (runs.get(job.data.n) ?? 0) + 1), {
    concurrency: 4,
  })
  const queue = rk.queue<{ n: number }>(`${name}-jobs`)
  const cache = rk.cache<number>(`${name}-cache`, { ttlMs: 60_000 })
  const sessions = rk.sessions<{ n: number }>({ name: `${name}-web`, idleTimeoutMs: 60_000 })
  const limiter = rk.rateLimiter(`${name}-rl`, { limit: 1_000_000, windowMs: 60_000, inMemoryBlock: false })
  const board = rk.leaderboard(`${name}-board`)

  const ackedExpirations: string[] = []
  const ackedJobs: number[] = []
  let inside = 0
  let lockOverlaps = 0
  let lastToken = 0
  let tokenRegressions = 0
  let staleReads = 0
  let boardAcked = 0
  let boardAttempted = 0

  const loop = async (lane: Lane, step: (i: number) => Promise<void>) => {
    for (let i = 0; !stopped; i++) {
      try {
        await step(i)
        record(lane)
      } catch (error) {
        record(lane, error)
      }
      await sleep(pauseMs)
    }
  }
  const running = [
    loop('events', async (i) => {
      const key = `${name}:exp:${i}`
      await rk.expirations.set(key, i, { ttlMs: 300 })
      ackedExpirations.push(key)
    }),
    loop('queue', async (i) => {
      await queue.add({ n: i })
      ackedJobs.push(i)
    }),
    // Two contenders on one lock: never both inside unless one was told it lost the hold.
    ...[0, 1].map(() =>
      loop('lock', async () => {
        const lock = rk.lock(`${name}-lock`, { ttlMs: 5000 })
        await lock.using(
          async (signal) => {
            const token = lock.token ?? 0
            if (token <= lastToken) tokenRegressions++
            lastToken = token
            inside++
            if (inside > 1 && !signal.aborted) lockOverlaps++
            await sleep(5)
            inside--
          },
          { timeoutMs: 3000 },
        )
      }),
    ),
    loop('cache', async (i) => {
      await cache.set(`k${i % 50}`, i)
      if ((await cache.get(`k${i % 50}`)) !== i) staleReads++
    }),
    loop('session', async (i) => {
      const session = await sessions.create(`user-${i % 20}`, { n: i })
      if ((await sessions.get(session.token))?.data.n !== i) staleReads++
    }),
    loop('stats', async () => {
      await limiter.consume('caller')
      boardAttempted++
      await board.incr('player', 1)
      boardAcked++
    }),
  ]

  return {
    mark() {
      markedAt = Date.now()
    },
    resumedAfter(at) {
      return Object.fromEntries(
        LANES.map((lane) => {
          const first = lanes[lane].okAt.find((t) => t > at)
          return [lane, first === undefined ? Number.NaN : first - at]
        }),
      ) as Record<Lane, number>
    },
    async stop(settleMs = 15_000) {
      stopped = true
      await Promise.all(running)
      const deadline = Date.now() + settleMs
      const lost = () => ({
        expirations: ackedExpirations.filter((key) => !delivered.has(key)),
        jobs: ackedJobs.filter((n) => !runs.has(n)),
      })
      while (Date.now() < deadline && (lost().expirations.length > 0 || lost().jobs.length > 0)) await sleep(100)
      await worker.close()
      await expirySub.close()
      const score = (await board.rank('player').catch(() => undefined))?.score ?? Number.NaN
      return {
        lanes,
        lostExpirations: lost().expirations,
        lostJobs: lost().jobs,
        duplicateJobs: [...runs].filter(([, count]) => count > 1).map(([n]) => n),
        lockOverlaps,
        tokenRegressions,
        staleReads,
        leaderboard: { acked: boardAcked, attempted: boardAttempted, score },
      }
    },
  }
}

/** The figures a chaos test prints: per lane successes, typed errors and resume time, and losses. */
export function summarize(report: WorkloadReport, resumed: Record<Lane, number>) {
  return {
    resumedMs: resumed,
    ok: Object.fromEntries(LANES.map((lane) => [lane, report.lanes[lane].ok])),
    typedErrors: Object.fromEntries(LANES.map((lane) => [lane, report.lanes[lane].typed.length])),
    raw: LANES.flatMap((lane) => report.lanes[lane].raw.map((e) => `${lane}: ${e}`)).slice(0, 5),
    lostExpirations: report.lostExpirations.length,
    lostJobs: report.lostJobs.length,
    duplicateJobs: report.duplicateJobs.length,
    lockOverlaps: report.lockOverlaps,
    tokenRegressions: report.tokenRegressions,
    staleReads: report.staleReads,
    leaderboard: report.leaderboard,
  }
}
