import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import type { Queue } from '../../src/messaging/index.js'
import { nextScript, releaseScript } from '../../src/messaging/queue-scripts.js'
import { closeAll, type RawClient, rawClient } from '../support/redis.js'
import { sleep } from '../support/wait.js'

// Issue 11 bug 11: getJob() of an active job, or of one deep in the ready list, ran LPOS over the
// whole ready list (13 ms of Redis time per call with 1M waiting jobs). The job's state is in its
// hash now. The server is this file's own, so its command counts are this file's alone.

let server: RedisProcess
let raw: RawClient
let rk: Redkit

beforeAll(async () => {
  server = await startRedisServer()
  raw = await rawClient(server.url)
  rk = await createRedkit({ url: server.url, prefix: 'state' })
}, 60_000)

afterAll(async () => {
  await rk?.close()
  await closeAll(raw)
  await server?.stop()
})

async function lposCalls(): Promise<number> {
  return Number(/cmdstat_lpos:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0)
}

/** getJob's state, checking it ran no LPOS. */
async function stateOf(queue: Queue<number>, id: string): Promise<string | undefined> {
  const before = await lposCalls()
  const job = await queue.getJob(id)
  expect(await lposCalls(), `LPOS calls during getJob(${id})`).toBe(before)
  return job?.state
}

/** One worker round trip by hand: lease `wanted` jobs and/or settle `outcomes` (7 values each). */
async function call(
  queue: Queue<number>,
  o: { wanted?: number; leaseMs?: number; prefix: string; recover?: boolean; outcomes?: Array<string | number> },
) {
  const outcomes = o.outcomes ?? []
  const [now, , , leased] = await nextScript.call(rk.connection, queue.keys, [
    o.leaseMs ?? 60_000,
    o.wanted ?? 0,
    o.prefix,
    0,
    o.recover ? 1 : 0,
    0,
    0,
    0,
    -1,
    0,
    5,
    outcomes.length / 7,
    ...outcomes,
  ])
  return { now, members: leased.filter((_, i) => i % 8 === 0) as string[], ids: leased.filter((_, i) => i % 8 === 1) as string[] }
}

describe('getJob works out a job state from its hash (issue 11 bug 11)', () => {
  it('an active job and jobs deep in the ready list: the right state, no LPOS over the ready list', async () => {
    const queue = rk.queue<number>('deep')
    await queue.add(-1, { jobId: 'A' })
    await queue.add(-2, { jobId: 'P', priority: 5 })
    for (let i = 0; i < 20_000; i += 1000) await queue.addBulk(Array.from({ length: 1000 }, (_, j) => ({ data: i + j })))
    await queue.add(-3, { jobId: 'Z' })
    expect(await stateOf(queue, 'Z')).toBe('waiting')
    expect(await stateOf(queue, 'P')).toBe('waiting')

    const first = await call(queue, { wanted: 1, prefix: 'hand.1.' })
    expect(first.ids).toEqual(['A'])
    expect(await stateOf(queue, 'A')).toBe('active')
    // Failed, retried without delay: at the back of the ready list, waiting again.
    await call(queue, { prefix: 'hand.2.', outcomes: [first.members[0] as string, 'r', 'boom', '{}', first.now, 1, '0:0'] })
    expect(await stateOf(queue, 'A')).toBe('waiting')
    expect((await queue.counts()).waiting).toBe(20_003)
  }, 60_000)

  it('the state follows the job through lease, recovery, dead letter, retryDead, release and completion', async () => {
    const queue = rk.queue<number>('moves')
    await queue.add(1, { jobId: 'B', priority: 2 })
    expect(await stateOf(queue, 'B')).toBe('waiting')

    // Leased, its lease expires, recovered: waiting.
    const first = await call(queue, { wanted: 1, leaseMs: 200, prefix: 'hand.1.' })
    expect(first.ids).toEqual(['B'])
    expect(await stateOf(queue, 'B')).toBe('active')
    await sleep(400)
    await call(queue, { prefix: 'hand.2.', recover: true })
    expect(await stateOf(queue, 'B')).toBe('waiting')

    // Leased, dead-lettered, moved back by retryDead: waiting.
    let leased = await call(queue, { wanted: 1, prefix: 'hand.3.' })
    expect(leased.ids).toEqual(['B'])
    expect(await stateOf(queue, 'B')).toBe('active')
    await call(queue, { prefix: 'hand.4.', outcomes: [leased.members[0] as string, 'd', 'gone', '{}', leased.now, 1, ''] })
    expect(await stateOf(queue, 'B')).toBe('dead')
    expect(await queue.retryDead({ ids: ['B'] })).toBe(1)
    expect(await stateOf(queue, 'B')).toBe('waiting')

    // Leased, given back (a worker closing): waiting.
    leased = await call(queue, { wanted: 1, prefix: 'hand.5.' })
    expect(leased.ids).toEqual(['B'])
    expect(await stateOf(queue, 'B')).toBe('active')
    expect(await releaseScript.call(rk.connection, queue.keys, leased.members)).toBe(1)
    expect(await stateOf(queue, 'B')).toBe('waiting')

    // Leased and completed.
    leased = await call(queue, { wanted: 1, prefix: 'hand.6.' })
    expect(await stateOf(queue, 'B')).toBe('active')
    await call(queue, { prefix: 'hand.7.', outcomes: [leased.members[0] as string, 'c', '""', '', leased.now, 1, ''] })
    expect(await stateOf(queue, 'B')).toBe('completed')
  }, 60_000)
})
