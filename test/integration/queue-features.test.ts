import { expect, it } from 'vitest'
import type { Job } from '../../src/messaging/index.js'
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
  },
  { only: ['standalone', 'cluster'] },
)
