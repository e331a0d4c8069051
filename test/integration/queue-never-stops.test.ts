import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { nextScript } from '../../src/messaging/queue-scripts.js'
import { TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

// Issue 11: a queue or a schedule must never silently stop, and a job must never be silently lost.
// Each test here failed before its fix.

let seq = 0
const name = (what: string) => `${what}-${++seq}`

/** One `queue-next` call made by hand: a worker that leases (or settles) and then is gone. */
function leaseByHand(
  rk: Redkit,
  keys: Parameters<typeof nextScript.call>[1],
  o: { leaseMs?: number; wanted?: number; prefix?: string; keep?: number; outcomes?: Array<string | number> } = {},
) {
  const outcomes = o.outcomes ?? []
  return nextScript.call(rk.connection, keys, [
    o.leaseMs ?? 30_000,
    o.wanted ?? 0,
    o.prefix ?? 'gone.0.',
    1,
    0,
    0,
    0,
    0,
    o.keep ?? -1,
    0,
    1,
    outcomes.length / 7,
    ...outcomes,
  ])
}

describe.each(TOPOLOGIES)('queues that never silently stop, on %s', (_topology, options) => {
  let rk: Redkit

  beforeAll(async () => {
    rk = await createRedkit({ ...options(), prefix: testPrefix() })
  })
  afterAll(() => rk?.close())

  it('drain() and remove() skip a due occurrence but keep the schedule running; repeat() repairs a broken chain (bug 1)', async () => {
    const queue = name('drain-sched')
    const q = rk.queue<string>(queue)
    const startAt = Date.now() + 50
    await rk.scheduler.repeat({ queue, id: 'tick', data: 'x', everyMs: 200, startAt })
    await sleep(80)
    await leaseByHand(rk, q.keys) // promotes the due occurrence to ready, as any worker's call does
    expect(await q.counts()).toMatchObject({ waiting: 1, delayed: 0 })
    expect(await q.drain()).toBe(1)
    const runs: string[] = []
    const worker = rk.worker<string>(queue, (job) => {
      runs.push(job.id)
    })
    await eventually(() => runs.length >= 2, 5000, 'the schedule runs again after drain()')
    await worker.close()
    // remove(<pending occurrence>) skips that run only.
    const [info] = await rk.scheduler.list(queue)
    expect(await q.remove(info?.nextJobId as string)).toBe(true)
    const after = runs.length
    const again = rk.worker<string>(queue, (job) => {
      runs.push(job.id)
    })
    await eventually(() => runs.length > after, 5000, 'the schedule runs again after remove()')
    await again.close()
    // A chain broken behind redkit's back (no worker ran since): registering again repairs it.
    const [now] = await rk.scheduler.list(queue)
    await rk.connection.send(['ZREM', q.keys.delayed, now?.nextJobId as string], { key: q.keys.delayed })
    await rk.connection.send(['ZREM', q.keys.scheduleAdvance, 'tick'], { key: q.keys.delayed })
    const repaired = await rk.scheduler.repeat({ queue, id: 'tick', data: 'x', everyMs: 200, startAt })
    expect(repaired).toMatchObject({ changed: false, repaired: true })
    expect((await q.counts()).delayed).toBe(1)
    expect(await rk.scheduler.repeat({ queue, id: 'tick', data: 'x', everyMs: 200, startAt })).toMatchObject({
      changed: false,
      repaired: false,
    })
    expect((await q.counts()).delayed).toBe(1)
    await rk.scheduler.cancel(queue, 'tick')
  })

  it('a schedule advances even when its occurrence cannot be decoded or its worker died after the lease (bug 2)', async () => {
    const queue = name('advance')
    const q = rk.queue<string>(queue)
    const startAt = Date.now() + 50
    await rk.scheduler.repeat({ queue, id: 'beat', data: 'x', everyMs: 150, startAt, job: { attempts: 1 } })
    // The first occurrence is corrupt in Redis: it is dead-lettered, and the chain goes on.
    await rk.connection.send(['HSET', q.keys.job(`beat@${startAt}`), 'd', '{"broken'], { key: q.keys.ready })
    const runs: string[] = []
    const dead: string[] = []
    const worker = rk.worker<string>(queue, (job) => {
      runs.push(job.id)
    })
    worker.on('dead', (id) => dead.push(id))
    await eventually(() => runs.length >= 2, 5000, 'runs after a dead-lettered occurrence')
    expect(dead).toContain(`beat@${startAt}`)
    await worker.close()
    // A worker leases the pending occurrence and dies before adding the next one (and, with
    // attempts: 1, before the handler ran): the occurrence is recovered without costing its one
    // attempt, and the schedule is advanced by another worker.
    const [info] = await rk.scheduler.list(queue)
    await eventually(async () => Date.now() >= (info?.nextRunAt ?? 0) + 20, 3000)
    const leased = await leaseByHand(rk, q.keys, { leaseMs: 100, wanted: 1 })
    expect(leased[3][1]).toBe(info?.nextJobId)
    const later: string[] = []
    const rescuer = rk.worker<string>(queue, (job) => {
      later.push(job.id)
    })
    await eventually(() => later.includes(info?.nextJobId as string), 5000, 'the orphaned occurrence runs')
    await eventually(() => later.length >= 3, 8000, 'the schedule goes on after its worker died')
    const dues = later.map((id) => Number(id.split('@')[1]))
    expect(new Set(dues).size).toBe(dues.length)
    await rescuer.close()
    await rk.scheduler.cancel(queue, 'beat')
  })

  it('close() while a lease call is in flight starts nothing and gives the jobs back without an attempt (bug 3)', async () => {
    const queue = name('close-inflight')
    const q = rk.queue<number>(queue)
    await q.addBulk([1, 2, 3].map((data) => ({ data })))
    const ran: number[] = []
    const worker = rk.worker<number>(queue, (job) => void ran.push(job.data), { concurrency: 5, autostart: false })
    worker.run() // sends the lease call
    await worker.close() // before its reply arrives
    expect(ran).toEqual([])
    expect(await q.counts()).toMatchObject({ waiting: 3, active: 0 })
    for (const job of await q.jobs('waiting')) expect(job.attemptsMade).toBe(0)
  })

  it('a lease call sent again after a lost reply gets its own leases and statuses back (bugs 4, 12)', async () => {
    const queue = name('resend')
    const q = rk.queue<number>(queue)
    await q.addBulk([1, 2].map((data) => ({ data })))
    const first = await leaseByHand(rk, q.keys, { wanted: 2, prefix: 'w1.0.' })
    const again = await leaseByHand(rk, q.keys, { wanted: 2, prefix: 'w1.0.' })
    expect(again[3]).toEqual(first[3])
    expect(await q.counts()).toMatchObject({ active: 2, waiting: 0 })
    // Settle one with keepCompleted: 0 (its record is deleted), "lose" the reply, send it again.
    const member = first[3][0] as string
    const outcome = [member, 'c', '', '', Date.now(), 0, '']
    const settled = await leaseByHand(rk, q.keys, { prefix: 'w1.1.', keep: 0, outcomes: outcome })
    const resent = await leaseByHand(rk, q.keys, { prefix: 'w1.1.', keep: 0, outcomes: outcome })
    expect(settled[4]).toEqual([1])
    expect(resent[4]).toEqual([1])
  })

  it('a job whose lease expired is not charged an attempt; recovered jobs keep their order (bug 4)', async () => {
    const queue = name('stalls')
    const q = rk.queue<number>(queue)
    await q.addBulk([1, 2, 3].map((data) => ({ data, options: { attempts: 1 } })))
    await leaseByHand(rk, q.keys, { wanted: 3, leaseMs: 100 })
    await sleep(150)
    const order: number[] = []
    const worker = rk.worker<number>(queue, (job) => void order.push(job.data), { maxStalledCount: 1 })
    await eventually(() => order.length === 3, 5000, 'recovered jobs run')
    expect(order).toEqual([1, 2, 3])
    expect((await q.counts()).dead).toBe(0)
    await worker.close()
  })

  it('a limiter-trimmed batch does not leave the worker idle until a marker comes (bug 5)', async () => {
    const queue = name('limited')
    const q = rk.queue<number>(queue)
    await q.addBulk(Array.from({ length: 20 }, (_, data) => ({ data })))
    let started = 0
    const worker = rk.worker<number>(
      queue,
      async (job) => {
        started++
        await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()))
      },
      { concurrency: 20, limiter: { max: 2, durationMs: 200 }, closeTimeoutMs: 0 },
    )
    await eventually(() => started >= 8, 4000, 'jobs start as the rate limit window opens')
    await worker.close()
  })

  it('resume() wakes idle workers for delayed jobs that fell due during the pause (bug 6)', async () => {
    const queue = name('resume')
    const q = rk.queue<number>(queue)
    await q.pause()
    const ran: number[] = []
    const worker = rk.worker<number>(queue, (job) => void ran.push(job.data))
    await new Promise<void>((resolve) => worker.once('drained', () => resolve()))
    await q.add(1, { delayMs: 100 })
    await sleep(250)
    await q.resume()
    await eventually(() => ran.length === 1, 3000, 'the delayed job runs soon after resume()')
    await worker.close()
  })

  it('repeat({ cron, startAt }) waits for startAt (bug 8)', async () => {
    const queue = name('cron-start')
    const startAt = Math.ceil((Date.now() + 5000) / 1000) * 1000
    const { nextRunAt } = await rk.scheduler.repeat({ queue, id: 'c', data: 1, cron: '* * * * * *', startAt })
    expect(nextRunAt).toBe(startAt)
    await rk.scheduler.cancel(queue, 'c')
  })

  it('a job whose record vanished is dead-lettered with E_JOB_LOST, not dropped (13)', async () => {
    const queue = name('vanished')
    const q = rk.queue<number>(queue)
    await q.add(1, { jobId: 'gone' })
    await rk.connection.send(['DEL', q.keys.job('gone')], { key: q.keys.ready })
    const dead: Array<[string, string | undefined]> = []
    const worker = rk.worker<number>(queue, () => {})
    worker.on('dead', (id, error) => dead.push([id, (error as { code?: string }).code]))
    await eventually(() => dead.length === 1, 3000, 'the vanished job is dead-lettered')
    expect(dead).toEqual([['gone', 'E_JOB_LOST']])
    expect(await q.jobIds('dead')).toEqual(['gone'])
    await worker.close()
  })

  it('jobTimeoutMs fails a handler that never settles (13)', async () => {
    const queue = name('timeout')
    const q = rk.queue<number>(queue)
    await q.add(1, { attempts: 1 })
    const dead: string[] = []
    const worker = rk.worker<number>(queue, () => new Promise(() => {}), { jobTimeoutMs: 150 })
    worker.on('dead', (_id, error) => dead.push((error as { code?: string }).code ?? ''))
    await eventually(() => dead.length === 1, 3000, 'the hung job is dead-lettered')
    expect(dead).toEqual(['E_TIMEOUT'])
    expect(worker.running).toBe(0)
    await worker.close()
  })
})
