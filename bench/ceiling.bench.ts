/**
 * The ceiling of this machine and server, to put every other figure in context:
 * - raw node-redis v6 GET and SET, concurrency 100 on one client (closed loop, keys pre-filled,
 *   100-byte values), with the per-command timeout disabled and with the default client (5000 ms
 *   timeout, one timer per command), so the cost of that timer shows as a ratio;
 * - redis-benchmark against the same server, `-c 100 -d 100`, without pipelining and with -P 16.
 * All subjects of one command run in interleaved slices (A,B,C,D, D,C,B,A, ...).
 */
import { createClient } from 'redis'
import { type Figures, type InterleaveSubject, interleave, logSlice, recordInterleave } from './lib/interleave.js'
import { closedLoop } from './lib/load.js'
import { hasRedisBenchmark, redisBenchmarkArgs, runRedisBenchmark } from './lib/redis-benchmark.js'
import { defineBenchmark } from './lib/types.js'

const CONCURRENCY = 100
const VALUE_BYTES = 100
/** redis-benchmark's key when run without -r: pre-filled so its GET reads a 100-byte value too. */
const REDIS_BENCHMARK_KEY = 'key:__rand_int__'

/** A node-redis client with its defaults, or with the per-command timeout disabled. */
function newClient(url: string, timeout?: 0) {
  return timeout === undefined ? createClient({ url }) : createClient({ url, commandOptions: { timeout } })
}
type Client = ReturnType<typeof newClient>

export default defineBenchmark({
  name: 'ceiling',
  description: 'node-redis v6 GET/SET at concurrency 100 (timeout off vs default timer) and redis-benchmark (-P 1 / -P 16)',
  async run(ctx) {
    const sliceMs = ctx.quick ? 500 : 3000
    const warmupMs = ctx.quick ? 100 : 300
    const rounds = ctx.quick ? 2 : 4
    const keyCount = ctx.quick ? 1000 : 10_000
    const value = 'v'.repeat(VALUE_BYTES)
    const keys = Array.from({ length: keyCount }, (_, i) => `ceiling:key:${i}`)
    const params = { concurrency: CONCURRENCY, valueBytes: VALUE_BYTES, keys: keyCount, sliceMs, rounds }

    const noTimeout = newClient(ctx.redisUrl, 0)
    const withTimeout = newClient(ctx.redisUrl)
    const clients: [string, Client][] = [
      ['timeout 0', noTimeout],
      ['default', withTimeout],
    ]
    for (const [label, client] of clients) {
      let reported = false
      client.on('error', (error: Error) => {
        if (!reported) ctx.log(`node-redis (${label}) error: ${error.message}`)
        reported = true
      })
    }

    try {
      await Promise.all(clients.map(([, c]) => c.connect()))
      for (let i = 0; i < keys.length; i += 1000) await Promise.all(keys.slice(i, i + 1000).map((k) => noTimeout.set(k, value)))
      await noTimeout.set(REDIS_BENCHMARK_KEY, value)
      ctx.log(`pre-filled ${keyCount} keys with ${VALUE_BYTES}-byte values; slices of ${sliceMs} ms, ${rounds} rounds`)

      const redisBenchmark = await hasRedisBenchmark()
      if (!redisBenchmark) ctx.log('redis-benchmark not found (Debian: apt-get install redis-tools): its rows are skipped')

      for (const command of ['GET', 'SET'] as const) {
        if (ctx.signal.aborted) break
        const op =
          command === 'GET'
            ? (client: Client) => (seq: number) => client.get(keys[seq % keyCount]!)
            : (client: Client) => (seq: number) => client.set(keys[seq % keyCount]!, value)

        const nodeRedis = (name: string, client: Client, timeoutMs: number): InterleaveSubject => ({
          name,
          params: { client: 'node-redis 6', commandTimeoutMs: timeoutMs },
          async slice() {
            const r = await closedLoop(op(client), { concurrency: CONCURRENCY, durationMs: sliceMs, warmupMs, signal: ctx.signal })
            return { 'ops/s': r.opsPerSec, p50: r.latencyMs.p50, p99: r.latencyMs.p99, max: r.latencyMs.max }
          },
        })

        const benchmarkTool = (name: string, pipeline: number): InterleaveSubject => {
          // redis-benchmark only takes a request count: size it from the previous slice to last ~sliceMs.
          let requests = pipeline > 1 ? 500_000 : 50_000
          const base = { port: ctx.redisPort, tests: [command.toLowerCase()], clients: CONCURRENCY, dataSize: VALUE_BYTES, pipeline }
          return {
            name,
            params: {
              client: 'redis-benchmark',
              pipeline,
              args: redisBenchmarkArgs({ ...base, requests: 0 })
                .join(' ')
                .replace('-n 0', '-n <N>'),
            },
            async slice(): Promise<Figures> {
              const rows = await runRedisBenchmark({ ...base, requests, signal: ctx.signal })
              const row = rows.find((r) => r.test.toUpperCase() === command)
              if (!row) throw new Error(`redis-benchmark printed no ${command} row`)
              requests = Math.max(10_000, Math.round((row.rps * sliceMs) / 1000))
              return { 'ops/s': row.rps, p50: row.p50Ms, p99: row.p99Ms, max: row.maxMs }
            },
          }
        }

        const subjects: InterleaveSubject[] = [
          nodeRedis(`node-redis ${command} (timeout 0)`, noTimeout, 0),
          nodeRedis(`node-redis ${command} (default 5000 ms timeout)`, withTimeout, 5000),
        ]
        if (redisBenchmark) {
          subjects.push(benchmarkTool(`redis-benchmark ${command}`, 1), benchmarkTool(`redis-benchmark ${command} -P 16`, 16))
        }
        ctx.log(`${command}: ${subjects.length} subjects, warm-up slice each, then ${rounds} interleaved rounds`)
        const result = await interleave(subjects, {
          rounds,
          ratioOf: ['ops/s'],
          signal: ctx.signal,
          onSlice: logSlice(ctx),
        })
        recordInterleave(ctx, result, { units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', max: 'ms' }, params: { ...params, command } })
      }
    } finally {
      // destroy, not close: after Ctrl-C the server may be gone and close() would wait for it.
      for (const [, client] of clients) if (client.isOpen) client.destroy()
    }
  },
})
