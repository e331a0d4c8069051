import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { Scheduler } from '../../src/messaging/index.js'
import { nextScript } from '../../src/messaging/queue-scripts.js'
import { TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually, sleep } from '../support/wait.js'

let seq = 0

describe.each(TOPOLOGIES)('scheduler on %s', (_topology, options) => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(() => rk?.close())

  it('after rk.close() refuses with E_CLOSED naming the scheduler (the component lifecycle)', async () => {
    const other = await createRedkit({ ...options(), prefix })
    const { scheduler } = other
    expect(scheduler.state).toBe('open')
    await other.close()
    expect(scheduler.state).toBe('closed')
    const closed = { code: 'E_CLOSED', details: { component: 'scheduler' } }
    expect(() => scheduler.schedule({ queue: 'q', id: 'a', data: 1 })).toThrow(expect.objectContaining(closed))
    await expect(scheduler.repeat({ queue: 'q', id: 'r', data: 1, everyMs: 1000 })).rejects.toMatchObject(closed)
    await expect(scheduler.cancel('q', 'a')).rejects.toMatchObject(closed)
    await expect(scheduler.list('q')).rejects.toMatchObject(closed)
  })

  it('runs a delayed task by id once; cancel removes it before it runs', async () => {
    const queue = `emails-${++seq}`
    const runs: string[] = []
    const worker = rk.worker<string>(queue, (job) => {
      runs.push(job.id)
    })
    expect(await rk.scheduler.schedule({ queue, id: 'welcome:42', data: 'hi', delayMs: 150 })).toEqual({ id: 'welcome:42', created: true })
    expect(await rk.scheduler.schedule({ queue, id: 'welcome:42', data: 'hi', delayMs: 150 })).toEqual({ id: 'welcome:42', created: false })
    await rk.scheduler.schedule({ queue, id: 'cleanup:7', data: 'later', runAt: Date.now() + 200 })
    expect(await rk.scheduler.cancel(queue, 'cleanup:7')).toBe(true)
    expect(await rk.scheduler.cancel(queue, 'cleanup:7')).toBe(false)
    await eventually(() => runs.length === 1)
    await sleep(250)
    expect(runs).toEqual(['welcome:42'])
    await worker.close()
  })

  it('runs each due time of an interval task once across several processes', async () => {
    const queue = `ticks-${++seq}`
    const others = await Promise.all([createRedkit({ ...options(), prefix }), createRedkit({ ...options(), prefix })])
    const all = [rk, ...others]
    const runs: string[] = []
    try {
      const workers = all.map((r) =>
        r.worker<string>(queue, (job) => {
          runs.push(job.id)
        }),
      )
      // Every process registers the same schedule at boot: one schedule, one chain.
      const results = await Promise.all(all.map((r) => r.scheduler.repeat({ queue, id: 'tick', data: 'x', everyMs: 100 })))
      expect(results.filter((r) => r.changed)).toHaveLength(1)
      await eventually(() => runs.length >= 6)
      const dues = runs.map((id) => Number(id.split('@')[1]))
      expect(new Set(dues).size).toBe(dues.length)
      for (const due of dues) expect(due % 100).toBe(0)
      const sorted = [...dues].sort((a, b) => a - b)
      // A due time that passed before the previous run started is skipped, not caught up (no burst
      // after a stall), so gaps are whole intervals: 100 ms, or more on a loaded machine.
      for (let i = 1; i < sorted.length; i++) expect((sorted[i]! - sorted[i - 1]!) % 100).toBe(0)
      const [info] = await rk.scheduler.list(queue)
      expect(info).toMatchObject({ id: 'tick', queue, everyMs: 100 })
      expect(await rk.scheduler.cancel(queue, 'tick')).toBe(true)
      await sleep(150)
      const count = runs.length
      await sleep(300)
      expect(runs.length).toBe(count)
      expect(await rk.scheduler.list(queue)).toEqual([])
      await Promise.all(workers.map((w) => w.close()))
    } finally {
      await Promise.all(others.map((r) => r.close()))
    }
  })

  it('runs cron tasks and replaces a changed definition', async () => {
    const queue = `cron-${++seq}`
    const runs: Array<[string, string]> = []
    const worker = rk.worker<string>(queue, (job) => {
      runs.push([job.id, job.data])
    })
    const first = await rk.scheduler.repeat({ queue, id: 'beat', data: 'v1', cron: '* * * * * *' })
    expect(first.changed).toBe(true)
    expect(first.nextRunAt! % 1000).toBe(0)
    expect((await rk.scheduler.repeat({ queue, id: 'beat', data: 'v1', cron: '* * * * * *' })).changed).toBe(false)
    await eventually(() => runs.length >= 1, 3000)
    expect((await rk.scheduler.repeat({ queue, id: 'beat', data: 'v2', cron: '*/1 * * * * *' })).changed).toBe(true)
    await eventually(() => runs.some(([, data]) => data === 'v2'), 3000)
    const ids = runs.map(([id]) => id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(await rk.scheduler.cancel(queue, 'beat')).toBe(true)
    await worker.close()
  })

  it('replacing a schedule drops a pending occurrence that waits in the prioritized set (regression)', async () => {
    const queue = `prio-${++seq}`
    const q = rk.queue<string>(queue)
    const startAt = Date.now() + 100
    const task = { queue, id: 'report', everyMs: 3_600_000, startAt, job: { priority: 5 } }
    expect((await rk.scheduler.repeat({ ...task, data: 'old' })).nextRunAt).toBe(startAt)
    const pending = `report@${startAt}`
    await sleep(150)
    // Promote the due occurrence the way a worker's fetch does (settle-only, no lease): it now
    // waits in the prioritized set, not in the delayed set.
    await nextScript.call(rk.connection, q.keys, [30_000, 0, 't', 1, 0, 0, 0, 0, -1, 0, 1, 0])
    expect(await q.counts()).toMatchObject({ prioritized: 1, delayed: 0 })
    expect((await rk.scheduler.repeat({ ...task, data: 'new' })).changed).toBe(true)
    // The old definition's occurrence must not run: it is gone from every waiting place, with its hash.
    expect(await q.counts()).toMatchObject({ prioritized: 0, waiting: 0, delayed: 1 })
    expect(await q.getJob(pending)).toBeNull()
    expect(await rk.scheduler.cancel(queue, 'report')).toBe(true)
  })

  it('rejects bad definitions', async () => {
    await expect(rk.scheduler.repeat({ queue: 'q', id: 'x', data: 1 })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await expect(rk.scheduler.repeat({ queue: 'q', id: 'x', data: 1, cron: '* *' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' })
    await expect(rk.scheduler.repeat({ queue: 'q', id: 'x', data: 1, everyMs: 10, cron: '* * * * *' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    })
    await expect(rk.scheduler.repeat({ queue: 'q', id: '', data: 1, everyMs: 10 })).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(new Scheduler(rk)).toBeInstanceOf(Scheduler)
  })
})
