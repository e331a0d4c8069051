import { startRedisServer } from '../packages/server/src/redis-process.js'
import { createRedkit } from '../src/index.js'
import { interleave, recordInterleave } from './lib/interleave.js'
import { closedLoop } from './lib/load.js'
import { defineBenchmark } from './lib/types.js'

/**
 * What `durable: { replicas: 1 }` costs (issue 16 item 5): queue adds, expiry writes and lock acquire+release with
 * and without WAIT, against the harness's server with one local replica, interleaved slices, at
 * concurrency 1 (latency) and 16 (throughput). A local replica is the cheapest case; across a
 * network each durable write adds the replica's round trip.
 */
export default defineBenchmark({
  name: 'durable',
  description: 'queue add, expirations.set and lock acquire with and without durable (WAIT 1 replica)',
  async run(ctx) {
    const replica = await startRedisServer({
      args: ['--replicaof', '127.0.0.1', String(ctx.redisPort), '--save', '', '--appendonly', 'no'],
    })
    const rk = await createRedkit({ url: ctx.redisUrl, prefix: 'bench-durable' })
    // Expiry writes only (no sweeper): the deadlines lie an hour ahead.
    const plainTimed = await createRedkit({ url: ctx.redisUrl, prefix: 'bench-durable', expirations: { sweep: false } })
    const durableTimed = await createRedkit({
      url: ctx.redisUrl,
      prefix: 'bench-durable',
      expirations: { sweep: false, durable: { replicas: 1, timeoutMs: 1000 } },
    })
    try {
      // Until the replica is attached, every WAIT would time out.
      for (let i = 0; i < 100 && Number(await rk.connection.send(['WAIT', '1', '100'])) < 1; i++) {}
      const durable = { replicas: 1, timeoutMs: 1000 }
      const rounds = ctx.quick ? 2 : 6
      const sliceMs = ctx.quick ? 300 : 1500
      for (const concurrency of [1, 16]) {
        const subject = (name: string, op: (seq: number) => Promise<unknown>) => ({
          name,
          slice: async () => {
            const result = await closedLoop(op, { concurrency, durationMs: sliceMs, signal: ctx.signal })
            return { 'ops/s': result.opsPerSec, p50: result.latencyMs.p50, p99: result.latencyMs.p99 }
          },
        })
        const plainQueue = rk.queue('plain')
        const durableQueue = rk.queue('durable', { durable })
        const lockOp = (options: { durable?: typeof durable }) => async (seq: number) => {
          const lock = rk.lock(`l${seq % 64}`, { ...options, ttlMs: 5000, watchdog: false })
          if (await lock.tryAcquire()) await lock.release()
        }
        const result = await interleave(
          [
            subject('queue.add', () => plainQueue.add({ n: 1 })),
            subject('queue.add durable', () => durableQueue.add({ n: 1 })),
            subject('lock acquire+release', lockOp({})),
            subject('lock acquire+release durable', lockOp({ durable })),
            subject('expirations.set', (seq) => plainTimed.expirations.set(`bench-durable:e${seq % 10_000}`, 1, { ttlMs: 3_600_000 })),
            subject('expirations.set durable', (seq) =>
              durableTimed.expirations.set(`bench-durable:e${seq % 10_000}`, 1, { ttlMs: 3_600_000 }),
            ),
          ],
          { rounds, baseline: 'queue.add', ratioOf: ['ops/s'], signal: ctx.signal },
        )
        recordInterleave(ctx, result, {
          units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms' },
          params: { concurrency, rounds, sliceMs, replicas: 1 },
          rowOf: (name, metric) => ({ subject: `${name} c=${concurrency}`, metric }),
        })
        await rk.connection.send(['FLUSHALL'])
      }
    } finally {
      await Promise.all([rk.close(), plainTimed.close(), durableTimed.close()])
      await replica.stop()
    }
  },
})
