import { existsSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { type Job, type JobTraceContext, jobTracing, UnrecoverableError } from '../../src/messaging/index.js'
import { startChild, stopChild } from '../support/child.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { clusterUrls, standaloneUrl, testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/queue-worker.ts', import.meta.url))

let queueSeq = 0
const queueName = (what: string) => `${what}-${++queueSeq}`

describe.each(TOPOLOGIES)('queue on %s', (_topology, options) => {
  let rk: Redkit

  beforeAll(async () => {
    rk = await createRedkit({ ...options(), prefix: testPrefix() })
  })
  afterAll(() => rk?.close())

  it('adds, reads and counts jobs; an add with an existing jobId adds nothing', async () => {
    const queue = rk.queue<{ n: number }>(queueName('basic'))
    const a = await queue.add({ n: 1 })
    expect(a.created).toBe(true)
    const b = await queue.add({ n: 2 }, { jobId: 'order-42' })
    expect(b).toEqual({ id: 'order-42', created: true })
    expect(await queue.add({ n: 3 }, { jobId: 'order-42' })).toEqual({ id: 'order-42', created: false })
    await queue.add({ n: 4 }, { delayMs: 60_000 })
    await queue.add({ n: 5 }, { priority: 3 })
    const job = await queue.getJob('order-42')
    expect(job).toMatchObject({ id: 'order-42', state: 'waiting', data: { n: 2 }, attemptsMade: 0, priority: 0 })
    expect(await queue.getJob('missing')).toBeNull()
    expect(await queue.counts()).toEqual({ waiting: 3, prioritized: 1, delayed: 1, active: 0, completed: 0, dead: 0, paused: false })
    expect(await queue.jobIds('waiting')).toEqual([a.id, 'order-42', expect.any(String)])
    const bulk = await queue.addBulk(
      Array.from({ length: 450 }, (_, i) => ({ data: { n: i }, options: i === 7 ? { jobId: 'order-42' } : {} })),
    )
    expect(bulk.filter((j) => j.created)).toHaveLength(449)
    expect((await queue.counts()).waiting).toBe(452)
    expect(await queue.drain()).toBe(452)
    expect(await queue.drain({ delayed: true })).toBe(1)
    expect(await queue.destroy()).toBeGreaterThanOrEqual(0)
  })

  it('rejects bad input with typed errors and writes nothing', async () => {
    const queue = rk.queue<unknown>(queueName('input'), { maxPayloadBytes: 1000 })
    expect(await errorCode(queue.add({ f: () => 1 }))).toBe('E_ENCODE')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(await errorCode(queue.add(cyclic))).toBe('E_ENCODE')
    expect(await errorCode(queue.add('x'.repeat(2000)))).toBe('E_TOO_LARGE')
    expect(await errorCode(queue.add(1, { priority: -1 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(queue.add(1, { attempts: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(queue.add(1, { delayMs: Number.NaN }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(queue.add(1, { jobId: '' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(queue.add(1, { jobId: 'a\nb' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(queue.addBulk([{ data: 1 }, { data: () => 1 }]))).toBe('E_ENCODE')
    expect(await errorCode(() => rk.queue('a{b}'))).toBe('E_INVALID_KEY')
    expect(await queue.counts()).toMatchObject({ waiting: 0, delayed: 0 })
  })

  it('processes jobs, stores results and progress, in FIFO order then by priority', async () => {
    const name = queueName('process')
    const queue = rk.queue<{ n: number }>(name)
    await queue.add({ n: 1 }, { priority: 2 })
    await queue.add({ n: 2 }, { priority: 1 })
    await queue.add({ n: 3 }, { jobId: 'third' })
    await queue.add({ n: 4 })
    const seen: number[] = []
    const worker = rk.worker<{ n: number }, number>(name, async (job) => {
      seen.push(job.data.n)
      await job.updateProgress({ step: 1 })
      return job.data.n * 10
    })
    const completed: number[] = []
    worker.on('completed', (_job, result) => completed.push(result))
    await eventually(() => completed.length === 4)
    expect(seen).toEqual([3, 4, 2, 1])
    const job = await queue.getJob<number>('third')
    expect(job).toMatchObject({ state: 'completed', result: 30, progress: { step: 1 }, attemptsMade: 0 })
    expect(job?.startedAt).toBeGreaterThan(0)
    expect(job?.finishedAt).toBeGreaterThanOrEqual(job?.startedAt ?? 0)
    await worker.close()
    expect(await queue.counts()).toMatchObject({ waiting: 0, active: 0, completed: 4 })
  })

  it('retries with backoff, then dead-letters with the error kept; retryDead and clean', async () => {
    const name = queueName('retry')
    const queue = rk.queue<string>(name)
    await queue.add('flaky', { jobId: 'flaky', attempts: 3, backoff: { type: 'fixed', delayMs: 30, jitter: 0 } })
    await queue.add('broken', { jobId: 'broken', attempts: 2, backoff: 10 })
    await queue.add('fatal', { jobId: 'fatal', attempts: 5 })
    const runs = new Map<string, number>()
    const worker = rk.worker<string>(
      name,
      (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1)
        if (job.data === 'fatal') throw new UnrecoverableError('bad input')
        if (job.data === 'broken') throw Object.assign(new Error('still broken'), { code: 'EBROKEN' })
        if (job.attemptsMade < 2) throw new Error(`flaky ${job.attemptsMade}`)
        return 'ok'
      },
      { concurrency: 3 },
    )
    const dead: string[] = []
    const failed: Array<[string, number]> = []
    worker.on('dead', (id) => dead.push(id))
    worker.on('failed', (job, _error, retryInMs) => failed.push([job.id, retryInMs]))
    await eventually(async () => dead.length === 2 && (await queue.getJob('flaky'))?.state === 'completed')
    expect(runs).toEqual(
      new Map([
        ['flaky', 3],
        ['broken', 2],
        ['fatal', 1],
      ]),
    )
    expect(failed).toEqual(
      expect.arrayContaining([
        ['flaky', 30],
        ['broken', 10],
      ]),
    )
    const broken = await queue.getJob('broken')
    expect(broken).toMatchObject({
      state: 'dead',
      attemptsMade: 2,
      error: { message: 'EBROKEN still broken', code: 'EBROKEN', name: 'Error' },
    })
    expect(broken?.error?.stack).toContain('still broken')
    expect(await queue.getJob('fatal')).toMatchObject({ state: 'dead', attemptsMade: 1, error: { name: 'UnrecoverableError' } })
    expect((await queue.getJob('flaky'))?.attemptsMade).toBe(2)
    expect(await queue.jobIds('dead')).toEqual(expect.arrayContaining(['broken', 'fatal']))
    // Dead letters back to the queue with fresh attempts.
    expect(await queue.retryDead({ ids: ['fatal'] })).toBe(1)
    await eventually(() => runs.get('fatal') === 2)
    await eventually(async () => (await queue.counts()).dead === 2)
    expect(await queue.clean({ state: 'dead' })).toBe(2)
    expect(await queue.clean({ state: 'completed', olderThanMs: 60_000 })).toBe(0)
    expect(await queue.clean({ state: 'completed' })).toBe(1)
    expect(await queue.counts()).toMatchObject({ completed: 0, dead: 0 })
    await worker.close()
  })

  it('runs delayed jobs at their due time and honours runAt', async () => {
    const name = queueName('delayed')
    const queue = rk.queue<number>(name)
    const started = new Map<number, number>()
    const worker = rk.worker<number>(name, (job) => {
      started.set(job.data, Date.now())
    })
    await eventually(() => worker.listenerCount('drained') >= 0)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const t0 = Date.now()
    await queue.add(1, { delayMs: 150 })
    await queue.add(2, { runAt: new Date(t0 + 80) })
    await queue.add(3, { delayMs: 0 })
    expect((await queue.counts()).delayed).toBeGreaterThanOrEqual(1)
    await eventually(() => started.size === 3)
    expect(started.get(3)! - t0).toBeLessThan(80)
    expect(started.get(2)! - t0).toBeGreaterThanOrEqual(78)
    expect(started.get(2)! - t0).toBeLessThan(80 + 60)
    expect(started.get(1)! - t0).toBeGreaterThanOrEqual(148)
    expect(started.get(1)! - t0).toBeLessThan(150 + 60)
    await worker.close()
  })

  it('pauses and resumes; a paused queue still accepts jobs', async () => {
    const name = queueName('pause')
    const queue = rk.queue<number>(name)
    const done: number[] = []
    const worker = rk.worker<number>(name, (job) => {
      done.push(job.data)
    })
    expect(await queue.pause()).toBe(true)
    expect(await queue.pause()).toBe(false)
    expect(await queue.isPaused()).toBe(true)
    await queue.add(1)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(done).toEqual([])
    expect((await queue.counts()).paused).toBe(true)
    expect(await queue.resume()).toBe(true)
    await eventually(() => done.length === 1)
    await worker.close()
  })

  it('rejects the late ack of a worker that blocked its event loop past the lease: the job completes once', async () => {
    const name = queueName('lease')
    const queue = rk.queue<string>(name)
    const ledger = path.join(tmpdir(), `redkit-lease-${process.pid}-${queueSeq}.log`)
    const opts = options()
    // Worker A, in its own process, blocks its event loop 1200 ms on its first job (lease 300 ms).
    const child = await startChild(FIXTURE, {
      ...('cluster' in opts ? { REDKIT_CLUSTER: clusterUrls().join(',') } : { REDKIT_URL: standaloneUrl() }),
      REDKIT_PREFIX: rk.keys.prefix,
      QUEUE: name,
      LEDGER: ledger,
      MODE: 'block-first',
      BLOCK_MS: '1200',
      LEASE_MS: '300',
    })
    try {
      await queue.add('slow', { jobId: 'slow' })
      await eventually(() => existsSync(ledger) && readFileSync(ledger, 'utf8').includes('run slow'))
      // Worker B, here, recovers the expired lease and completes the job.
      const completions: string[] = []
      const b = rk.worker<string>(name, () => 'from B', { visibilityTimeoutMs: 300 })
      b.on('completed', (job, result) => completions.push(`${job.id}:${result}`))
      await eventually(() => completions.length === 1 && readFileSync(ledger, 'utf8').includes('lost slow'), 8000)
      expect(completions).toEqual(['slow:from B'])
      expect(readFileSync(ledger, 'utf8')).not.toContain('ack slow')
      const job = await queue.getJob('slow')
      // The stall is counted apart from attempts (issue 11): it cost no attempt.
      expect(job).toMatchObject({ state: 'completed', result: 'from B', attemptsMade: 0, stalledCount: 1, error: { code: 'E_JOB_LOST' } })
      await b.close()
    } finally {
      await stopChild(child)
      rmSync(ledger, { force: true })
    }
  })

  it('renews leases of long handlers and aborts the signal of a job whose lease is lost', async () => {
    const name = queueName('renew')
    const queue = rk.queue<number>(name)
    await queue.add(1, { jobId: 'long' })
    let runs = 0
    const worker = rk.worker<number>(
      name,
      async () => {
        runs++
        await new Promise((resolve) => setTimeout(resolve, 700))
        return 'done'
      },
      { visibilityTimeoutMs: 200 },
    )
    await eventually(async () => (await queue.getJob('long'))?.state === 'completed')
    expect(runs).toBe(1)
    await worker.close()
    // Losing the lease (deleted behind the worker's back) aborts the job's signal at the next renewal.
    await queue.add(2, { jobId: 'victim' })
    let aborted: unknown
    const worker2 = rk.worker<number>(
      name,
      (job) =>
        new Promise((resolve) => {
          job.signal.addEventListener('abort', () => {
            aborted = job.signal.reason
            resolve('late')
          })
        }),
      { visibilityTimeoutMs: 150 },
    )
    await eventually(async () => (await queue.counts()).active === 1)
    await rk.connection.send(['DEL', queue.keys.active], { key: queue.keys.active })
    await eventually(() => aborted !== undefined)
    expect(isRedkitError(aborted, 'E_JOB_LOST')).toBe(true)
    await worker2.close()
  })

  it('recovers the jobs of a worker that stopped renewing (crash) and dead-letters a job that stalls more than maxStalledCount', async () => {
    const name = queueName('recover')
    const queue = rk.queue<number>(name)
    // A lease taken by a "worker" that died: written directly, as a crashed process leaves it.
    await queue.add(1, { jobId: 'orphan', attempts: 2 })
    await queue.add(2, { jobId: 'doomed', attempts: 1 })
    const k = queue.keys
    const send = (args: string[]) => rk.connection.send(args, { key: k.ready })
    await send(['LPOP', k.ready, '2'])
    // 'doomed' stalled once before: this second stall is one more than maxStalledCount (1) allows.
    await send(['HSET', k.job('doomed'), 'l', '1'])
    const past = Date.now() - 1000
    await send(['ZADD', k.active, String(past), 'dead.0.1:orphan', String(past), 'dead.0.2:doomed'])
    const recovered: number[] = []
    const dead: string[] = []
    const worker = rk.worker<number>(name, () => 'ok')
    worker.on('recovered', (n) => recovered.push(n))
    worker.on('dead', (id, error) => dead.push(`${id}:${(error as { code?: string }).code}`))
    await eventually(async () => (await queue.getJob('orphan'))?.state === 'completed')
    expect(recovered.reduce((a, b) => a + b, 0)).toBe(2)
    expect(dead).toEqual(['doomed:E_JOB_LOST'])
    expect(await queue.getJob('doomed')).toMatchObject({ state: 'dead', attemptsMade: 0, stalledCount: 2, error: { code: 'E_JOB_LOST' } })
    expect(await queue.getJob('orphan')).toMatchObject({ attemptsMade: 0, stalledCount: 1 })
    await worker.close()
  })

  it('dead-letters jobs that are malformed in Redis and keeps running', async () => {
    const name = queueName('malformed')
    const queue = rk.queue<number>(name)
    await queue.add(1, { jobId: 'bad-data' })
    await queue.add(2, { jobId: 'bad-options' })
    await queue.add(3, { jobId: 'vanished' })
    await queue.add(4, { jobId: 'good' })
    await rk.connection.send(['HSET', queue.keys.job('bad-data'), 'd', '{"broken'], { key: queue.keys.ready })
    await rk.connection.send(['HSET', queue.keys.job('bad-options'), 'o', 'not json'], { key: queue.keys.ready })
    await rk.connection.send(['DEL', queue.keys.job('vanished')], { key: queue.keys.ready })
    const done: number[] = []
    const dead: Array<[string, string | undefined]> = []
    const worker = rk.worker<number, string>(
      name,
      (job) => {
        done.push(job.data)
        // A result the codec cannot store is a bug, not a transient failure: dead letter.
        if (job.data === 4) return (() => 1) as unknown as string
        return 'ok'
      },
      { attempts: 5 },
    )
    worker.on('dead', (id, error) => dead.push([id, (error as { code?: string }).code]))
    await eventually(() => dead.length === 4)
    expect(done).toEqual([4])
    expect(dead).toEqual(
      expect.arrayContaining([
        ['bad-data', 'E_DECODE'],
        ['bad-options', 'E_DECODE'],
        ['good', 'E_ENCODE'],
        // A job whose record vanished is dead-lettered with the reason, never dropped (issue 11).
        ['vanished', 'E_JOB_LOST'],
      ]),
    )
    // The undecodable dead letters are skipped by the listing instead of failing it as a whole.
    expect((await queue.jobs('dead')).map((job) => job.id).sort()).toEqual(['good', 'vanished'])
    expect(await queue.jobIds('dead')).toEqual(expect.arrayContaining(['bad-data', 'bad-options', 'good']))
    expect(await errorCode(queue.getJob('bad-data'))).toBe('E_DECODE')
    const good = await queue.getJob('good')
    expect(good?.error?.code).toBe('E_ENCODE')
    expect(await queue.getJob('vanished')).toMatchObject({ state: 'dead', data: undefined, error: { code: 'E_JOB_LOST' } })
    expect((await queue.counts()).active).toBe(0)
    await worker.close()
  })

  it('limits the rate of the whole queue', async () => {
    const name = queueName('limit')
    const queue = rk.queue<number>(name)
    await queue.addBulk(Array.from({ length: 9 }, (_, i) => ({ data: i })))
    const times: number[] = []
    const t0 = Date.now()
    const worker = rk.worker<number>(
      name,
      () => {
        times.push(Date.now() - t0)
      },
      { concurrency: 10, limiter: { max: 4, durationMs: 300 } },
    )
    await eventually(() => times.length === 9)
    expect(times.filter((t) => t < 250)).toHaveLength(4)
    expect(times.filter((t) => t < 550)).toHaveLength(8)
    await worker.close()
  })

  it('closes gracefully: finishes running jobs, gives back those past the timeout', async () => {
    const name = queueName('close')
    const queue = rk.queue<number>(name)
    await queue.add(1, { jobId: 'quick' })
    await queue.add(2, { jobId: 'endless' })
    const started: string[] = []
    const worker = rk.worker<number>(
      name,
      async (job) => {
        started.push(job.id)
        if (job.id === 'quick') await new Promise((resolve) => setTimeout(resolve, 100))
        else await new Promise((resolve) => job.signal.addEventListener('abort', resolve))
        return job.id
      },
      { concurrency: 2 },
    )
    await eventually(() => started.length === 2)
    await worker.close({ timeoutMs: 300 })
    expect(await queue.getJob('quick')).toMatchObject({ state: 'completed', result: 'quick' })
    expect(await queue.getJob('endless')).toMatchObject({ state: 'waiting', attemptsMade: 0 })
    expect((await queue.counts()).active).toBe(0)
  })

  it('traces handler runs on the redkit:messaging:job tracing channel', async () => {
    const name = queueName('trace')
    const seen: string[] = []
    const handlers: Parameters<typeof jobTracing.subscribe>[0] = {
      start: (ctx: JobTraceContext) => {
        seen.push(`start ${ctx.queue} ${ctx.id} ${ctx.attemptsMade}`)
      },
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (ctx: JobTraceContext) => {
        seen.push(`end ${ctx.id}`)
      },
      error: () => {},
    }
    jobTracing.subscribe(handlers)
    try {
      await rk.queue<number>(name).add(1, { jobId: 'traced' })
      const worker = rk.worker<number>(name, () => 'ok')
      await eventually(() => seen.length === 2)
      expect(seen).toEqual([`start ${name} traced 0`, 'end traced'])
      await worker.close()
    } finally {
      jobTracing.unsubscribe(handlers)
    }
  })

  it('keeps only the newest completed jobs (keepCompleted) or none', async () => {
    const name = queueName('keep')
    const queue = rk.queue<number>(name)
    await queue.addBulk(Array.from({ length: 60 }, (_, i) => ({ data: i })))
    const worker = rk.worker<number>(name, () => 1, { concurrency: 5, keepCompleted: 20 })
    await eventually(async () => (await queue.counts()).waiting === 0 && (await queue.counts()).active === 0)
    await worker.close()
    await queue.add(99, { jobId: 'last' })
    const w2 = rk.worker<number>(name, () => 1, { keepCompleted: 20 })
    await eventually(async () => (await queue.getJob('last'))?.state === 'completed')
    await w2.close()
    expect((await queue.counts()).completed).toBeLessThanOrEqual(30)
    await queue.add(100, { jobId: 'gone' })
    const w3 = rk.worker<number>(name, () => 1, { keepCompleted: 0 })
    const done: string[] = []
    w3.on('completed', (job: Job<number>) => done.push(job.id))
    await eventually(() => done.length === 1)
    expect(await queue.getJob('gone')).toBeNull()
    await w3.close()
  })
})
