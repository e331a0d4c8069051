import type { ChildProcess } from 'node:child_process'
import { hostname } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedkit } from '../../src/index.js'
import { startChild } from '../support/child.js'
import { errorCode, PROCESS_TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { eventually } from '../support/wait.js'

const FIXTURE = new URL('../fixtures/queue-worker.ts', import.meta.url).pathname

// queue.workers(): the registry of live workers across processes (issue 11 feature 8, the
// dashboard's "connected workers").
describe.each(PROCESS_TOPOLOGIES)('queue.workers() on %s', (_topology, options, childEnv) => {
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
  })

  it('lists the workers of every process, drops a closed one at once and a SIGKILLed one after 3 missed beats', async () => {
    const prefix = testPrefix()
    const rk = await createRedkit({ ...options(), prefix })
    try {
      const queue = rk.queue('mail')
      const local = rk.worker('mail', { welcome: async () => {}, digest: async () => {} }, { concurrency: 4, heartbeatMs: 100 })
      const env = { ...childEnv(), REDKIT_PREFIX: prefix, QUEUE: 'mail', CONCURRENCY: '2', HEARTBEAT_MS: '100' }
      const child = await startChild(FIXTURE, env)
      children.push(child)
      await eventually(async () => (await queue.workers()).length === 2, 5000, 'both workers listed')
      const listed = await queue.workers()
      const mine = listed.find((w) => w.id === local.id)
      expect(mine).toMatchObject({ host: hostname(), pid: process.pid, concurrency: 4, names: ['welcome', 'digest'], heartbeatMs: 100 })
      const theirs = listed.find((w) => w.id !== local.id)
      expect(theirs).toMatchObject({ pid: child.pid, concurrency: 2, names: [] })
      for (const w of listed) expect(w.lastSeenAt).toBeGreaterThanOrEqual(w.startedAt)
      // Beats keep the start time and move the last-seen time.
      const before = mine?.lastSeenAt ?? 0
      await eventually(async () => ((await queue.workers()).find((w) => w.id === local.id)?.lastSeenAt ?? 0) > before, 2000, 'a later beat')
      expect((await queue.workers()).find((w) => w.id === local.id)?.startedAt).toBe(mine?.startedAt)

      await local.close()
      expect((await queue.workers()).map((w) => w.id)).toEqual([theirs?.id])

      child.kill('SIGKILL')
      const killedAt = Date.now()
      await eventually(async () => (await queue.workers()).length === 0, 5000, 'the killed worker left out')
      // Three beats of 100 ms, plus one in flight.
      expect(Date.now() - killedAt).toBeLessThan(2000)
      // Its entry is deleted, not only hidden.
      const key = `${prefix}:{mail}:q:workers`
      expect(await rk.connection.send(['HLEN', key], { key })).toBe(0)
    } finally {
      await rk.close()
    }
  }, 30_000)

  it('skips planted entries, refuses a registry of the wrong type with a typed error, and validates heartbeatMs', async () => {
    const prefix = testPrefix()
    const rk = await createRedkit({ ...options(), prefix })
    rk.on('error', () => {})
    try {
      const queue = rk.queue('planted')
      const key = `${prefix}:{planted}:q:workers`
      const far = String(Date.now() + 3_600_000)
      await rk.connection.send(
        [
          'HSET',
          key,
          'garbage',
          'x',
          'bad-json',
          `${far} ${far} 1000 {nope`,
          'wrong-shape',
          `${far} ${far} 1000 {"host":1}`,
          'nan',
          'nan nan nan {}',
          'future',
          `${Number(far) * 2} ${far} 1000 {"host":"h","pid":1,"concurrency":1,"names":[]}`,
          'slow',
          `${Date.now()} 1 99999999999999 {"host":"h","pid":1,"concurrency":1,"names":[]}`,
        ],
        { key },
      )
      expect(await queue.workers()).toEqual([])
      // Unreadable entries are removed by the listing; the readable-but-wrong one is skipped.
      expect(await rk.connection.send(['HEXISTS', key, 'garbage'], { key })).toBe(0)
      // A last beat in the future or a beat interval no worker can have never lists a ghost for ever.
      expect(await rk.connection.send(['HEXISTS', key, 'future'], { key })).toBe(0)
      expect(await rk.connection.send(['HEXISTS', key, 'slow'], { key })).toBe(0)
      const worker = rk.worker('planted', async () => {}, { heartbeatMs: 100 })
      await eventually(async () => (await queue.workers()).length === 1, 3000, 'the real worker listed')
      await worker.close()

      await rk.connection.send(['DEL', key], { key })
      await rk.connection.send(['SET', key, 'a string'], { key })
      expect(await errorCode(queue.workers())).toBe('E_DECODE')
      expect(await rk.connection.send(['GET', key], { key })).toBe('a string')
      await rk.connection.send(['DEL', key], { key })

      for (const heartbeatMs of [0, 10, -1, Number.NaN, 2 ** 31, '100' as unknown as number]) {
        expect(() => rk.worker('planted', async () => {}, { heartbeatMs, autostart: false })).toThrow(
          expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
        )
      }
    } finally {
      await rk.close()
    }
  }, 30_000)
})
