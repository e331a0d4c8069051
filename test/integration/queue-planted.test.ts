import { expect, it } from 'vitest'
import { ErrorCodes, isRedkitError } from '../../src/index.js'
import type { JobOptions } from '../../src/messaging/index.js'
import { onEveryTopology } from '../support/topology.js'
import { eventually, sleep } from '../support/wait.js'

// Issue 13 item 6: a queue key planted with the wrong type must not make jobs vanish. Every queue
// script checks the types of the keys it will touch before its first write and refuses with a typed
// error, so nothing is half-written (Redis keeps a script's writes up to the command that fails);
// once the garbage is gone, the queue works again and every job it accepted runs exactly once.
// Before the fix, each kind lost or duplicated a job here (e.g. `ready`: add wrote the job's hash,
// then failed, and the same add again said it existed; `active`: the worker popped a job, then failed).

type Kind = 'ready' | 'active' | 'prioritized' | 'delayed' | 'completed' | 'dead' | 'wake' | 'job'
const KINDS: Kind[] = ['ready', 'active', 'prioritized', 'delayed', 'completed', 'dead', 'wake', 'job']

/** What is added while the garbage is there: plain, prioritized, delayed, generated id, one that fails for good. */
const JOBS: Array<[data: string, options: JobOptions]> = [
  ['J1', { jobId: 'J1' }],
  ['J2', { jobId: 'J2', priority: 2 }],
  ['J3', { jobId: 'J3', delayMs: 300 }],
  ['J4', {}],
  ['X1', { jobId: 'X1', attempts: 1 }],
]

let seq = 0

onEveryTopology(
  'queue keys planted with the wrong type',
  (t) => {
    for (const kind of KINDS) {
      it(`${kind}: adds are refused or kept, nothing is half-written, every accepted job runs exactly once`, async () => {
        const name = `planted-${kind}-${++seq}`
        const queue = t.rk.queue<string>(name)
        const runs = new Map<string, number>()
        const errors: unknown[] = []
        const worker = t.rk.worker<string>(
          name,
          async (job) => {
            runs.set(job.data, (runs.get(job.data) ?? 0) + 1)
            if (job.data === 'X1') throw new Error('fails for good')
          },
          { concurrency: 4 },
        )
        worker.on('error', (error) => errors.push(error))
        try {
          await queue.add('warm')
          await eventually(async () => (await queue.counts()).completed === 1, 10_000, 'the warm-up job')

          const key = kind === 'job' ? queue.keys.job('J1') : queue.keys[kind]
          await t.command(['DEL', key], key)
          if (kind === 'job') await t.command(['SET', key, 'garbage'], key)
          else await t.command(['HSET', key, 'x', 'garbage'], key)

          const accepted: string[] = []
          const refused: Array<[string, JobOptions]> = []
          for (const [data, options] of JOBS) {
            const added = await queue.add(data, options).catch((error: unknown) => error)
            if (isRedkitError(added)) {
              expect([ErrorCodes.E_DECODE, ErrorCodes.E_SCRIPT], `${data}: ${String(added)}`).toContain(added.code)
              refused.push([data, options])
            } else {
              // A new id: "exists" would mean the garbage passed for a job, which then never runs.
              expect(added, `${data} added while ${kind} is planted`).toMatchObject({ created: true })
              accepted.push(data)
            }
          }
          // Reads answer or refuse with a typed error while the garbage is there.
          for (const read of [() => queue.getJob('J1'), () => queue.counts()]) {
            await read().catch((error: unknown) => expect(isRedkitError(error), String(error)).toBe(true))
          }
          await sleep(1200) // the worker runs into the garbage meanwhile

          await t.command(['DEL', key], key)
          for (const [data, options] of refused) {
            const again = await queue.add(data, options)
            expect(again.created, `${data} re-added once the garbage is gone`).toBe(true)
          }
          // Adding an accepted job again (same id) adds nothing.
          for (const [data, options] of JOBS) {
            if (options.jobId && accepted.includes(data)) expect((await queue.add(data, options)).created).toBe(false)
          }
          await queue.add('J5', { jobId: 'J5' })

          const expected = [...JOBS.map(([data]) => data), 'J5']
          await eventually(() => expected.every((data) => runs.has(data)), 20_000, `every job of ${expected.join(', ')} ran`)
          await eventually(
            async () => {
              const counts = await queue.counts()
              return counts.waiting === 0 && counts.active === 0 && counts.delayed === 0
            },
            10_000,
            'the queue settles',
          )
          await sleep(300)
          expect(Object.fromEntries(runs)).toEqual(Object.fromEntries(['warm', ...expected].map((data) => [data, 1])))
          const counts = await queue.counts()
          expect({ waiting: counts.waiting, active: counts.active, delayed: counts.delayed, dead: counts.dead }).toEqual({
            waiting: 0,
            active: 0,
            delayed: 0,
            dead: 1,
          })
          for (const id of ['J1', 'J2', 'J3', 'J5']) expect((await queue.getJob(id))?.state, id).toBe('completed')
          expect((await queue.getJob('X1'))?.state).toBe('dead')
          for (const error of errors) expect(isRedkitError(error), String(error)).toBe(true)
        } finally {
          await worker.close()
        }
      }, 60_000)
    }
  },
  { only: ['standalone', 'cluster'] },
)

// Review 13 finding 9: stored job options the worker computes retries from (attempts, backoff) were
// used as they were read: a failing handler then threw outside any handler (an unhandled rejection
// that ended the process, and the job stayed leased to crash the next worker too), or retried every
// 10 ms for ever (attempts 1e300). Such a job is now dead-lettered with E_DECODE before its handler runs.
onEveryTopology(
  'queue jobs with planted options',
  (t) => {
    it('dead-letters each with E_DECODE without running its handler; the process and the worker live on', async () => {
      const name = `planted-options-${++seq}`
      const queue = t.rk.queue<string>(name)
      const PLANTS = [
        '{"bo":{"t":"e","d":-1}}',
        '{"bo":{"t":"e","d":"x"}}',
        '{"bo":{"t":"f","d":10,"j":5}}',
        '{"bo":{"t":"z","d":10}}',
        '{"at":1e300,"bo":{"t":"f","d":10}}',
        '{"at":0}',
        '{"nm":5}',
        '{"rp":[1]}',
      ]
      const rejections: unknown[] = []
      const onRejection = (reason: unknown) => rejections.push(reason)
      process.on('unhandledRejection', onRejection)
      const ran: string[] = []
      const worker = t.rk.worker<string>(
        name,
        async (job) => {
          ran.push(job.data)
          throw new Error('the handler fails')
        },
        { concurrency: 4, attempts: 2, backoff: 10 },
      )
      worker.on('error', () => {})
      try {
        for (const [i, plant] of PLANTS.entries()) {
          await queue.add(`P${i}`, { jobId: `P${i}`, delayMs: 400 })
          const key = queue.keys.job(`P${i}`)
          await t.command(['HSET', key, 'o', plant], key)
        }
        await queue.add('good', { jobId: 'good', delayMs: 400 })
        await eventually(async () => (await queue.counts()).dead === PLANTS.length + 1, 15_000, 'every job dead-lettered')
        for (const i of PLANTS.keys()) {
          // getJob refuses the planted options too (typed), or reports the dead letter's code.
          const job = await queue.getJob(`P${i}`).catch((error: unknown) => {
            expect(isRedkitError(error) && error.code, PLANTS[i]).toBe(ErrorCodes.E_DECODE)
            return undefined
          })
          if (job) expect(job.error?.code, PLANTS[i]).toBe(ErrorCodes.E_DECODE)
        }
        expect(ran).toEqual(['good', 'good'])
        expect(rejections).toEqual([])
      } finally {
        process.off('unhandledRejection', onRejection)
        await worker.close()
      }
    }, 30_000)
  },
  { only: ['standalone', 'cluster'] },
)
