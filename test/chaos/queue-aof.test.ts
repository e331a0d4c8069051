import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError } from '../../src/index.js'

const AOF = ['--appendonly', 'yes', '--appendfsync', 'always']

// Redis killed (SIGKILL) and restarted from its AOF (appendfsync always) in the middle of a run:
// every add the producer saw acknowledged, and every completion a worker saw acknowledged, survives.
describe('queue across a Redis crash and AOF restart', () => {
  it('loses no acknowledged add or ack', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'redkit-aof-'))
    let server: RedisProcess = await startRedisServer({ args: AOF, dir })
    const port = server.port
    const rk = await createRedkit({ url: server.url, prefix: 'aof', connectTimeoutMs: 1000 })
    const queue = rk.queue<number>('payments')
    const added = new Set<string>()
    const acked = new Set<string>()
    const worker = rk.worker<number>(
      'payments',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 2))
        return 'paid'
      },
      { concurrency: 4, visibilityTimeoutMs: 1000, keepCompleted: Number.POSITIVE_INFINITY },
    )
    worker.on('completed', (job) => acked.add(job.id))
    worker.on('error', () => {})
    let restarted = false
    try {
      for (let i = 0; i < 600; i++) {
        const id = `pay-${i}`
        if (i === 300) {
          server.signal('SIGKILL')
          await server.exited
          server = await startRedisServer({ args: AOF, dir, port })
          restarted = true
        }
        // A failed add is retried with the same id: idempotent, so never added twice.
        for (;;) {
          try {
            await queue.add(i, { jobId: id })
            added.add(id)
            break
          } catch (error) {
            if (!isRedkitError(error)) throw error
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
        }
      }
      expect(restarted).toBe(true)
      const deadline = Date.now() + 20_000
      while (Date.now() < deadline && (await queue.counts()).completed < added.size) await new Promise((r) => setTimeout(r, 50))
      const completed = new Set(await queue.jobIds('completed', { limit: 10_000 }))
      for (const id of added) expect(await queue.getJob(id), `acknowledged add ${id} lost`).not.toBeNull()
      for (const id of acked) expect(completed.has(id), `acknowledged completion ${id} lost`).toBe(true)
      expect(completed.size).toBe(600)
      expect(acked.size).toBeGreaterThan(250)
    } finally {
      await worker.close({ timeoutMs: 1000 })
      await rk.close()
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
