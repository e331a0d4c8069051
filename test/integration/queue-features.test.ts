import { expect, it } from 'vitest'
import { type Job, UnrecoverableError } from '../../src/messaging/index.js'
import { resolveWorkerOptions } from '../../src/messaging/worker-options.js'
import { errorCode } from '../support/expect.js'
import { onEveryTopology } from '../support/topology.js'
import { eventually } from '../support/wait.js'

let seq = 0
const queueName = (what: string) => `${what}-${++seq}`

// The features BullMQ users reach for (issue 11), on standalone and Cluster.
onEveryTopology(
  'queue features',
  (t) => {
    it('job names: several kinds of job share a queue, each run by its name’s handler', async () => {
      const name = queueName('named')
      const queue = t.rk.queue<{ to: string }>(name)
      await queue.add({ to: 'ann' }, { name: 'email' })
      await queue.addBulk([
        { data: { to: 'bob' }, options: { name: 'sms' } },
        { data: { to: 'cy' }, options: { name: 'email' } },
      ])
      const unknown = await queue.add({ to: 'dee' }, { name: 'fax', attempts: 1 })
      const { id: unnamed } = await queue.add({ to: 'eve' }, { attempts: 1 })
      expect(await queue.getJob(unknown.id)).toMatchObject({ name: 'fax', state: 'waiting' })
      expect((await queue.getJob(unnamed))?.name).toBeUndefined()

      const ran: string[] = []
      const dead: Array<[string, string | undefined]> = []
      const worker = t.rk.worker<{ to: string }, string>(name, {
        email: (job: Job<{ to: string }>) => {
          ran.push(`email:${job.data.to}:${job.name}`)
          return 'mailed'
        },
        sms: (job) => {
          ran.push(`sms:${job.data.to}`)
          return 'texted'
        },
      })
      worker.on('dead', (id, error) => dead.push([id, (error as { code?: string }).code]))
      await eventually(() => ran.length === 3 && dead.length === 2, 5000, 'named jobs run')
      await worker.close()
      expect(ran.sort()).toEqual(['email:ann:email', 'email:cy:email', 'sms:bob'])
      // A name without a handler (and a job without a name) fails like any handler failure.
      expect(dead.sort()).toEqual(
        [
          [unknown.id, 'E_INVALID_ARGUMENT'],
          [unnamed, 'E_INVALID_ARGUMENT'],
        ].sort(),
      )
      expect((await queue.getJob(unknown.id))?.error?.message).toContain("no handler for job name 'fax'")
      expect(await queue.jobs('completed')).toHaveLength(3)
      // Bad names and handler maps are refused before anything is written.
      expect(await errorCode(queue.add({ to: 'x' }, { name: '' }))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(queue.add({ to: 'x' }, { name: 'n'.repeat(300) }))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(() => t.rk.worker(name, {}))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(() => t.rk.worker(name, { a: 1 as never }))).toBe('E_INVALID_ARGUMENT')
      expect((await queue.counts()).waiting).toBe(0)
      await queue.destroy()
    })

    it('per-job actions from the queue: promote, changeDelay, changePriority, updateData', async () => {
      const name = queueName('actions')
      const queue = t.rk.queue<{ n: number }>(name)
      const { id: later } = await queue.add({ n: 1 }, { delayMs: 60_000, priority: 4 })
      const { id: plain } = await queue.add({ n: 2 })
      expect(await queue.promote(plain)).toBe(false) // not delayed
      expect(await queue.changeDelay(plain, 1000)).toBe(false)
      expect(await queue.promote('nope')).toBe(false)
      expect(await queue.promote(later)).toBe(true)
      expect(await queue.getJob(later)).toMatchObject({ state: 'waiting', priority: 4 })
      expect(await queue.jobIds('waiting')).toEqual([plain, later])
      // Priorities: a plain job moves into the prioritized set; 1 overtakes 4; 0 makes a job plain again.
      const { id: p3 } = await queue.add({ n: 3 }, { priority: 3 })
      expect(await queue.jobIds('waiting')).toEqual([plain, p3, later])
      expect(await queue.changePriority(later, 1)).toBe(true)
      expect(await queue.jobIds('waiting')).toEqual([plain, later, p3])
      expect(await queue.changePriority(plain, 2)).toBe(true)
      expect(await queue.jobIds('waiting')).toEqual([later, plain, p3])
      expect(await queue.changePriority(p3, 0)).toBe(true)
      expect(await queue.jobIds('waiting')).toEqual([p3, later, plain])
      expect(await queue.getJob(plain)).toMatchObject({ priority: 2 })
      expect(await queue.getJob(p3)).toMatchObject({ priority: 0 })
      expect(await queue.changePriority('nope', 1)).toBe(false)
      // changeDelay: a delayed job gets a new due time; its priority is kept for when it is due.
      const { id: delayed } = await queue.add({ n: 4 }, { delayMs: 60_000 })
      expect(await queue.changePriority(delayed, 7)).toBe(true)
      expect(await queue.updateData(delayed, { n: 40 })).toBe(true)
      expect(await queue.updateData('nope', { n: 0 })).toBe(false)
      expect(await queue.changeDelay(delayed, 300)).toBe(true)
      expect(await errorCode(queue.changeDelay(delayed, -1))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(queue.changePriority(delayed, 1.5))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(queue.updateData(delayed, { n: (() => 1) as never }))).toBe('E_ENCODE')
      expect(await errorCode(queue.promote(''))).toBe('E_INVALID_KEY')
      expect(await queue.getJob(delayed)).toMatchObject({ state: 'delayed', data: { n: 40 }, priority: 7 })

      const seen: Array<[number, number]> = []
      const started = Date.now()
      let delayedRanAfter = 0
      const worker = t.rk.worker<{ n: number }>(name, (job) => {
        if (job.id === delayed) delayedRanAfter = Date.now() - started
        seen.push([job.data.n, 0])
      })
      await eventually(() => seen.length === 4, 5000, 'all four ran')
      await worker.close()
      expect(seen.map(([n]) => n)).toEqual([3, 1, 2, 40])
      expect(delayedRanAfter).toBeGreaterThan(150)
      expect(delayedRanAfter).toBeLessThan(3000)
      // Finished jobs no longer wait: nothing to promote or re-prioritise.
      expect(await queue.changePriority(p3, 1)).toBe(false)
      await queue.destroy()
    })

    it('job logs and updateData from a handler; logs are capped, kept with the job and deleted with it', async () => {
      const name = queueName('logs')
      const queue = t.rk.queue<{ step: number }>(name)
      const { id } = await queue.add({ step: 0 }, { attempts: 2, backoff: 0 })
      const worker = t.rk.worker<{ step: number }>(name, async (job) => {
        await job.log(`attempt ${job.attemptsMade + 1} at step ${job.data.step}`)
        if (job.attemptsMade === 0) {
          await job.updateData({ step: 1 })
          expect(job.data).toEqual({ step: 1 })
          throw new Error('first attempt fails')
        }
        return job.data.step
      })
      await eventually(async () => (await queue.getJob(id))?.state === 'completed', 5000, 'completed')
      await worker.close()
      expect(await queue.getLogs(id)).toEqual({ count: 2, logs: ['attempt 1 at step 0', 'attempt 2 at step 1'] })
      const job = await queue.getJob(id)
      expect(job).toMatchObject({ data: { step: 1 }, result: 1, attemptsMade: 1 })
      expect(Object.keys(job ?? {})).not.toContain('logs')
      // From the queue, capped at the newest 1,000 lines.
      for (let i = 0; i < 1004; i += 100)
        await Promise.all(Array.from({ length: Math.min(100, 1004 - i) }, (_, j) => queue.log(id, `line ${i + j}`)))
      const logs = await queue.getLogs(id, { offset: 0, limit: 2000 })
      expect(logs.count).toBe(1006)
      expect(logs.logs).toHaveLength(1000)
      expect(await queue.getLogs(id, { offset: 998, limit: 5 })).toEqual({
        count: 1006,
        logs: expect.arrayContaining([expect.any(String)]),
      })
      expect((await queue.getLogs(id, { offset: 998, limit: 5 })).logs).toHaveLength(2)
      expect(await queue.log('nope', 'x')).toBe(0)
      expect(await errorCode(queue.log(id, 'x'.repeat(20_000)))).toBe('E_TOO_LARGE')
      expect(await errorCode(queue.log(id, 5 as never))).toBe('E_INVALID_ARGUMENT')
      // Deleted with the job.
      expect(await queue.clean({ state: 'completed' })).toBe(1)
      expect(await queue.getLogs(id)).toEqual({ count: 0, logs: [] })
      await queue.destroy()
    })

    it('retention: removeOnComplete and removeOnFail by count and by age; dead letters bounded by default', async () => {
      expect(resolveWorkerOptions({})).toMatchObject({ keep: 1000, deadKeep: 10_000, completedAgeMs: -1, deadAgeMs: -1 })
      expect(resolveWorkerOptions({ removeOnComplete: true, removeOnFail: false })).toMatchObject({ keep: 0, deadKeep: -1 })
      expect(await errorCode(() => t.rk.worker('x', () => 1, { removeOnFail: { count: -1 } }))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(() => t.rk.worker('x', () => 1, { removeOnComplete: { ageMs: 0 } }))).toBe('E_INVALID_ARGUMENT')
      expect(await errorCode(() => t.rk.worker('x', () => 1, { removeOnComplete: 'all' as never }))).toBe('E_INVALID_ARGUMENT')

      // By count: the newest 5 completed and the newest 3 dead letters stay.
      const byCount = queueName('keep-count')
      const queue = t.rk.queue<number>(byCount)
      await queue.addBulk(Array.from({ length: 30 }, (_, i) => ({ data: i })))
      const worker = t.rk.worker<number>(
        byCount,
        (job) => {
          if (job.data % 5 === 0) throw new UnrecoverableError('poison')
          return job.data
        },
        { removeOnComplete: 5, removeOnFail: { count: 3 }, idleBlockMs: 200 },
      )
      await eventually(
        async () => {
          const c = await queue.counts()
          return c.completed === 5 && c.dead === 3 && c.waiting === 0
        },
        15_000,
        'trimmed to 5 completed and 3 dead',
      )
      await worker.close()
      expect((await queue.jobIds('dead')).sort()).toHaveLength(3)
      expect(await queue.getJob((await queue.jobIds('completed'))[0] as string)).not.toBeNull()

      // By age: finished jobs older than 300 ms are deleted (hashes too).
      const byAge = queueName('keep-age')
      const aged = t.rk.queue<number>(byAge)
      const { id } = await aged.add(1)
      const { id: bad } = await aged.add(2)
      const w2 = t.rk.worker<number>(
        byAge,
        (job) => {
          if (job.data === 2) throw new UnrecoverableError('poison')
          return 1
        },
        { removeOnComplete: { ageMs: 300 }, removeOnFail: { ageMs: 300, count: 100 }, idleBlockMs: 200 },
      )
      await eventually(async () => (await aged.getJob(id))?.state === 'completed', 5000, 'completed')
      await eventually(async () => (await aged.getJob(id)) === null && (await aged.getJob(bad)) === null, 12_000, 'aged out')
      await w2.close()
      expect(await aged.counts()).toMatchObject({ completed: 0, dead: 0 })
      await queue.destroy()
      await aged.destroy()
    }, 40_000)
  },
  { only: ['standalone', 'cluster'] },
)
