/**
 * redkit queue against BullMQ on the same throwaway Redis, in interleaved slices (BullMQ, redkit,
 * redkit, BullMQ, ...), with BullMQ's own benchmark shapes (issue 4):
 *  - sequential `add` of 5,000 jobs (one awaited at a time);
 *  - `addBulk` of 20,000 jobs in batches of 50;
 *  - 20,000 pre-filled no-op jobs processed at concurrency 100 (from worker start to last completion).
 * For each, Redis commands per job are read from INFO commandstats (every command the server ran,
 * those inside Lua scripts included). Then, per library:
 *  - delayed jobs: 10,000 jobs due within the same second; lateness = handler start - due time;
 *  - an idle worker: commands per second it causes on an empty queue.
 * Both libraries run with their defaults (BullMQ keeps every completed job; redkit keeps the newest
 * 1,000 and trims the rest), the same concurrency, one Node process.
 */
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq'
import { createClient } from 'redis'
import { createRedkit, type Redkit } from '../src/index.js'
import { type Figures, type InterleaveSubject, interleave, recordInterleave } from './lib/interleave.js'
import { createLatencyHistogram, summarize } from './lib/load.js'
import { sleep } from './lib/stats.js'
import { type BenchContext, defineBenchmark } from './lib/types.js'

const CONCURRENCY = 100
const BULK_BATCH = 50

function newAdmin(url: string) {
  return createClient({ url, commandOptions: { timeout: 0 } })
}
type Admin = ReturnType<typeof newAdmin>

/** Total commands the server has run so far (sum of calls over INFO commandstats), and EVALSHA alone. */
async function commandCount(admin: Admin): Promise<{ all: number; scripts: number }> {
  const info = await admin.sendCommand<string>(['INFO', 'commandstats'])
  let all = 0
  let scripts = 0
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const calls = Number(match[2])
    all += calls
    if (match[1] === 'evalsha' || match[1] === 'eval') scripts += calls
  }
  return { all, scripts }
}

/** Runs `fn` and returns the commands (and script calls) it caused, minus the INFO probe itself. */
async function counted<T>(admin: Admin, fn: () => Promise<T>): Promise<{ value: T; commands: number; scripts: number }> {
  const before = await commandCount(admin)
  const value = await fn()
  const after = await commandCount(admin)
  return { value, commands: after.all - before.all - 1, scripts: after.scripts - before.scripts }
}

interface Library {
  name: string
  seqAdd(queue: string, n: number): Promise<void>
  bulkAdd(queue: string, n: number): Promise<void>
  /** Pre-fills `n` jobs, then times their processing at concurrency 100. Returns ms. */
  process(queue: string, n: number, counter: (fn: () => Promise<void>) => Promise<number>): Promise<number>
  delayed(queue: string, n: number, spreadMs: number): Promise<number[]>
  idle(queue: string, ms: number, admin: Admin): Promise<number>
  close(): Promise<void>
}

function bullmq(host: string, port: number): Library {
  const connection = { host, port, maxRetriesPerRequest: null }
  const queues = new Map<string, BullQueue>()
  const queueOf = (name: string) => {
    let q = queues.get(name)
    if (!q) {
      q = new BullQueue(name, { connection })
      queues.set(name, q)
    }
    return q
  }
  const closeQueue = async (name: string) => {
    await queues.get(name)?.close()
    queues.delete(name)
  }
  const runWorker = async (name: string, until: (done: number) => boolean, onJob: (data: { due?: number }) => void = () => {}) => {
    let done = 0
    let resolve = () => {}
    const finished = new Promise<void>((r) => {
      resolve = r
    })
    const worker = new BullWorker(
      name,
      async (job) => {
        onJob(job.data as { due?: number })
      },
      { connection, concurrency: CONCURRENCY },
    )
    worker.on('completed', () => {
      if (until(++done)) resolve()
    })
    worker.on('error', () => {})
    return { worker, finished }
  }
  return {
    name: 'BullMQ',
    async seqAdd(name, n) {
      const q = queueOf(name)
      for (let i = 0; i < n; i++) await q.add('job', { i })
      await closeQueue(name)
    },
    async bulkAdd(name, n) {
      const q = queueOf(name)
      for (let i = 0; i < n; i += BULK_BATCH)
        await q.addBulk(Array.from({ length: BULK_BATCH }, (_, j) => ({ name: 'job', data: { i: i + j } })))
      await closeQueue(name)
    },
    async process(name, n, counter) {
      const q = queueOf(name)
      for (let i = 0; i < n; i += 1000) await q.addBulk(Array.from({ length: 1000 }, (_, j) => ({ name: 'job', data: { i: i + j } })))
      await closeQueue(name)
      let elapsed = 0
      await counter(async () => {
        const start = performance.now()
        const { worker, finished } = await runWorker(name, (done) => done >= n)
        await finished
        elapsed = performance.now() - start
        await worker.close()
      })
      return elapsed
    },
    async delayed(name, n, spreadMs) {
      const lateness: number[] = []
      const { worker, finished } = await runWorker(
        name,
        (done) => done >= n,
        (data) => lateness.push(Date.now() - (data.due ?? 0)),
      )
      await sleep(300)
      const q = queueOf(name)
      const base = Date.now() + 2000
      for (let i = 0; i < n; i += 1000) {
        const now = Date.now()
        await q.addBulk(
          Array.from({ length: Math.min(1000, n - i) }, (_, j) => {
            const due = Math.round(base + ((i + j) * spreadMs) / n)
            return { name: 'job', data: { due }, opts: { delay: due - now } }
          }),
        )
      }
      await finished
      await worker.close()
      await closeQueue(name)
      return lateness
    },
    async idle(name, ms, admin) {
      const { worker } = await runWorker(name, () => false)
      await sleep(1000)
      const { commands } = await counted(admin, () => sleep(ms))
      await worker.close()
      return (commands * 1000) / ms
    },
    async close() {
      await Promise.all([...queues.keys()].map(closeQueue))
    },
  }
}

function redkit(rk: Redkit): Library {
  const runWorker = (name: string, until: (done: number) => boolean, onJob: (data: { due?: number }) => void = () => {}) => {
    let done = 0
    let resolve = () => {}
    const finished = new Promise<void>((r) => {
      resolve = r
    })
    const worker = rk.worker<{ due?: number }>(
      name,
      (job) => {
        onJob(job.data)
      },
      { concurrency: CONCURRENCY },
    )
    worker.on('completed', () => {
      if (until(++done)) resolve()
    })
    return { worker, finished }
  }
  return {
    name: 'redkit',
    async seqAdd(name, n) {
      const q = rk.queue(name)
      for (let i = 0; i < n; i++) await q.add({ i })
    },
    async bulkAdd(name, n) {
      const q = rk.queue(name)
      for (let i = 0; i < n; i += BULK_BATCH) await q.addBulk(Array.from({ length: BULK_BATCH }, (_, j) => ({ data: { i: i + j } })))
    },
    async process(name, n, counter) {
      const q = rk.queue(name)
      for (let i = 0; i < n; i += 1000) await q.addBulk(Array.from({ length: 1000 }, (_, j) => ({ data: { i: i + j } })))
      let elapsed = 0
      await counter(async () => {
        const start = performance.now()
        const { worker, finished } = runWorker(name, (done) => done >= n)
        await finished
        elapsed = performance.now() - start
        await worker.close()
      })
      return elapsed
    },
    async delayed(name, n, spreadMs) {
      const lateness: number[] = []
      const { worker, finished } = runWorker(
        name,
        (done) => done >= n,
        (data) => lateness.push(Date.now() - (data.due ?? 0)),
      )
      await sleep(300)
      const q = rk.queue<{ due: number }>(name)
      const base = Date.now() + 2000
      for (let i = 0; i < n; i += 1000) {
        await q.addBulk(
          Array.from({ length: Math.min(1000, n - i) }, (_, j) => {
            const due = Math.round(base + ((i + j) * spreadMs) / n)
            return { data: { due }, options: { runAt: due } }
          }),
        )
      }
      await finished
      await worker.close()
      return lateness
    },
    async idle(name, ms, admin) {
      const { worker } = runWorker(name, () => false)
      await sleep(1000)
      const { commands } = await counted(admin, () => sleep(ms))
      await worker.close()
      return (commands * 1000) / ms
    },
    async close() {},
  }
}

function latencyFigures(lateness: number[]): Figures {
  const histogram = createLatencyHistogram()
  for (const ms of lateness) histogram.recordValue(Math.max(1, Math.round(Math.max(0, ms) * 1000)))
  const s = summarize(histogram)
  return { p50: s.p50, p99: s.p99, max: s.max, early: lateness.filter((ms) => ms < -1).length }
}

export default defineBenchmark({
  name: 'queue',
  description:
    'redkit queue vs BullMQ: sequential add, addBulk, processing at concurrency 100 (jobs/s, Redis commands per job), delayed lateness, idle worker',
  async run(ctx: BenchContext) {
    const seqJobs = ctx.quick ? 1000 : 5000
    const bulkJobs = ctx.quick ? 4000 : 20_000
    const processJobs = ctx.quick ? 4000 : 20_000
    const delayedJobs = ctx.quick ? 2000 : 10_000
    const rounds = ctx.quick ? 2 : 4
    const url = new URL(ctx.redisUrl)
    const admin = newAdmin(ctx.redisUrl)
    admin.on('error', (error: Error) => ctx.log(`admin: ${error.message}`))
    await admin.connect()
    const rk = await createRedkit({ url: ctx.redisUrl, prefix: 'bench' })
    const libraries = [bullmq(url.hostname, Number(url.port)), redkit(rk)]
    let seq = 0
    try {
      const workloads: Array<{
        name: string
        jobs: number
        run: (lib: Library, queue: string) => Promise<{ ms: number; commands: number; scripts: number }>
      }> = [
        {
          name: 'add',
          jobs: seqJobs,
          run: async (lib, queue) => {
            const start = performance.now()
            const { commands, scripts } = await counted(admin, () => lib.seqAdd(queue, seqJobs))
            return { ms: performance.now() - start, commands, scripts }
          },
        },
        {
          name: 'addBulk',
          jobs: bulkJobs,
          run: async (lib, queue) => {
            const start = performance.now()
            const { commands, scripts } = await counted(admin, () => lib.bulkAdd(queue, bulkJobs))
            return { ms: performance.now() - start, commands, scripts }
          },
        },
        {
          name: 'process',
          jobs: processJobs,
          run: async (lib, queue) => {
            let commands = 0
            let scripts = 0
            const ms = await lib.process(queue, processJobs, async (fn) => {
              const c = await counted(admin, fn)
              commands = c.commands
              scripts = c.scripts
              return c.commands
            })
            return { ms, commands, scripts }
          },
        },
      ]
      for (const workload of workloads) {
        if (ctx.signal.aborted) break
        const subjects: InterleaveSubject[] = libraries.map((lib) => ({
          name: lib.name,
          params: { library: lib.name },
          slice: async (round) => {
            await admin.sendCommand(['FLUSHALL'])
            const { ms, commands, scripts } = await workload.run(lib, `${workload.name}-${++seq}`)
            const figures = {
              'jobs/s': (workload.jobs * 1000) / ms,
              'cmds/job': commands / workload.jobs,
              'scripts/job': scripts / workload.jobs,
            }
            if (round >= 0)
              ctx.log(
                `${workload.name} ${lib.name} round ${round}: ${Math.round(figures['jobs/s'])} jobs/s, ${figures['cmds/job'].toFixed(2)} cmds/job`,
              )
            return figures
          },
        }))
        const result = await interleave(subjects, { rounds, baseline: 'BullMQ', ratioOf: ['jobs/s', 'cmds/job'], signal: ctx.signal })
        recordInterleave(ctx, result, {
          units: { 'jobs/s': 'ops/s', 'cmds/job': 'cmds', 'scripts/job': 'calls' },
          params: { workload: workload.name, jobs: workload.jobs, concurrency: workload.name === 'process' ? CONCURRENCY : 1, rounds },
          rowOf: (subject, metric) => ({ subject: `${subject} ${workload.name}`, metric }),
        })
      }

      // Delayed jobs: 10,000 due within one second, workers already waiting.
      for (const lib of libraries) {
        if (ctx.signal.aborted) break
        await admin.sendCommand(['FLUSHALL'])
        const lateness = await lib.delayed(`delayed-${++seq}`, delayedJobs, 1000)
        const figures = latencyFigures(lateness)
        ctx.log(
          `delayed ${lib.name}: p50 ${figures.p50?.toFixed(1)} ms, p99 ${figures.p99?.toFixed(1)} ms, max ${figures.max?.toFixed(1)} ms`,
        )
        for (const [metric, value] of Object.entries(figures)) {
          ctx.record({
            subject: `${lib.name} delayed`,
            metric,
            value,
            unit: metric === 'early' ? 'jobs' : 'ms',
            params: { jobs: delayedJobs, spreadMs: 1000, concurrency: CONCURRENCY },
          })
        }
      }

      // An idle worker: commands per second it makes the server run.
      for (const lib of libraries) {
        if (ctx.signal.aborted) break
        await admin.sendCommand(['FLUSHALL'])
        const windowMs = ctx.quick ? 3000 : 10_000
        const perSec = await lib.idle(`idle-${++seq}`, windowMs, admin)
        ctx.log(`idle ${lib.name}: ${perSec.toFixed(2)} commands/s`)
        ctx.record({ subject: `${lib.name} idle worker`, metric: 'cmds/s', value: perSec, unit: 'cmds', params: { windowMs } })
      }
    } finally {
      await Promise.all(libraries.map((lib) => lib.close()))
      await rk.close()
      admin.destroy()
    }
  },
})
