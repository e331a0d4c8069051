import type { ChildProcess } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { startChild, stopChild } from '../support/child.js'
import { PROCESS_TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/queue-worker.ts', import.meta.url))
const JOBS = 1000
const WORKERS = 4

// 1,000 jobs, 4 worker processes, one killed with SIGKILL every 2 s (and replaced): every job ends
// completed or dead-lettered, none is lost, and no job's completion is recorded twice.
describe.each(PROCESS_TOPOLOGIES)('queue under SIGKILL on %s', (topology, options, childEnv) => {
  let rk: Redkit
  let prefix: string
  const ledger = path.join(tmpdir(), `redkit-kill-${process.pid}-${Date.now()}.log`)

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
    rmSync(ledger, { force: true })
  })

  it('completes every job exactly once or dead-letters it; none lost', async () => {
    const queue = rk.queue<number>('orders')
    const env = {
      ...childEnv(),
      REDKIT_PREFIX: prefix,
      QUEUE: 'orders',
      LEDGER: ledger,
      JOB_MS: '40',
      CONCURRENCY: '2',
      LEASE_MS: '800',
      ATTEMPTS: '5',
    }
    const start = () => startChild(FIXTURE, env)
    const workers: ChildProcess[] = await Promise.all(Array.from({ length: WORKERS }, start))
    await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ data: i, options: { jobId: `order-${i}` } })))
    let kills = 0
    const deadline = Date.now() + 60_000
    try {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 2000))
        const counts = await queue.counts()
        if (counts.completed + counts.dead === JOBS) break
        if (Date.now() > deadline) throw new Error(`not finished: ${JSON.stringify(counts)}`)
        const victim = Math.floor(Math.random() * workers.length)
        await stopChild(workers[victim] as ChildProcess, 'SIGKILL')
        kills++
        workers[victim] = await start()
      }
    } finally {
      await Promise.all(workers.map((w) => stopChild(w, 'SIGKILL')))
    }
    expect(kills).toBeGreaterThanOrEqual(1)

    const completed = new Set(await queue.jobIds('completed', { limit: JOBS * 2 }))
    const dead = new Set(await queue.jobIds('dead', { limit: JOBS * 2 }))
    const all = Array.from({ length: JOBS }, (_, i) => `order-${i}`)
    for (const id of all) expect(completed.has(id) || dead.has(id), `${id} lost`).toBe(true)
    for (const id of completed) expect(dead.has(id), `${id} both completed and dead`).toBe(false)
    expect(completed.size + dead.size).toBe(JOBS)
    expect(await queue.counts()).toMatchObject({ waiting: 0, delayed: 0, active: 0 })

    const lines = readFileSync(ledger, 'utf8').trim().split('\n')
    const acks = lines.filter((l) => l.startsWith('ack ')).map((l) => l.split(' ')[1] as string)
    const runs = new Set(lines.filter((l) => l.startsWith('run ')).map((l) => l.split(' ')[1] as string))
    // A completion is recorded once: no id acknowledged twice, every acknowledgement stored.
    expect(new Set(acks).size).toBe(acks.length)
    for (const id of acks) expect(completed.has(id)).toBe(true)
    for (const id of completed) expect(runs.has(id)).toBe(true)
    // Jobs killed mid-run ran more than once (at least once delivery), and were recovered.
    console.log(
      `${topology}: ${kills} kills, ${completed.size} completed, ${dead.size} dead, ${lines.filter((l) => l.startsWith('run ')).length} runs`,
    )
  }, 90_000)
})
