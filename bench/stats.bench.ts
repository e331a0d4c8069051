/**
 * redkit/stats against its peers, on the same throwaway Redis, 100 concurrent callers, in
 * interleaved slices (one run, ratios taken between neighbouring slices):
 * - rate limiter decisions over 1,000 keys: rate-limiter-flexible's RateLimiterRedis (fixed window,
 *   EVAL per decision) against redkit's fixed window, sliding window (buckets) and token bucket
 *   (GCRA), with a raw EVALSHA of a one-line script as the ceiling of one script call per decision;
 * - one hot key over its limit: rate-limiter-flexible without and with its own in-memory block
 *   (inMemoryBlockOnConsumed) against redkit's in-memory block;
 * - leaderboard incr + rank: raw pipelined ZINCRBY + ZREVRANK against rk.leaderboard incr (the
 *   writes of a tick batched into one script that returns each new score and rank, with
 *   deterministic ties), and as its ceiling the same batching around a script that only does
 *   ZINCRBY + ZREVRANK per write (what ordered ties cost on top);
 * - timeseries incr over 4 granularities: a raw MULTI of INCRBY + PEXPIREAT per granularity (one
 *   round trip, no validation) against rk.timeseries incr (one script).
 * `server µs/op` is the redis-server process's CPU per operation (INFO cpu) over the slice.
 * Redis calls per operation are counted on redkit's connection (each caller waits one round trip;
 * decisions asked in the same tick share one script call, so a rate limiter makes fewer calls than decisions).
 */
import { RateLimiterRedis } from 'rate-limiter-flexible'
import { createClient } from 'redis'
import { createRedkit, type Redkit } from '../src/index.js'
import { TickBatcher } from '../src/stats/tick-batcher.js'
import { closedLoopSubject, interleave, logSlice, recordInterleave, recordPairRatio, serverCpuOf, sliceTiming } from './lib/interleave.js'
import { defineBenchmark } from './lib/types.js'

const CONCURRENCY = 100
const KEYS = 1000

/** Counts the commands redkit sends while a slice runs. */
function countSends(rk: Redkit): { reset(): void; readonly count: number } {
  const send = rk.connection.send.bind(rk.connection)
  let count = 0
  rk.connection.send = ((...args: Parameters<typeof send>) => {
    count++
    return send(...args)
  }) as typeof send
  return {
    reset: () => {
      count = 0
    },
    get count() {
      return count
    },
  }
}

export default defineBenchmark({
  name: 'stats',
  description: 'redkit rate limiter vs rate-limiter-flexible, leaderboard vs raw ZINCRBY+ZREVRANK, timeseries incr',
  async run(ctx) {
    const { sliceMs, warmupMs, rounds } = sliceTiming(ctx)
    const url = ctx.redisUrl
    const raw = createClient({ url, commandOptions: { timeout: 0 } })
    raw.on('error', () => {})
    // rate-limiter-flexible gets the client its README shows for node-redis, without the per-command timer (as redkit).
    const peerClient = createClient({ url, commandOptions: { timeout: 0 } })
    peerClient.on('error', () => {})
    const rk = await createRedkit({ url, prefix: 'bench' })
    try {
      await Promise.all([raw.connect(), peerClient.connect()])
      const sends = countSends(rk)
      const perOp = new Map<string, number>()
      // The server process's CPU per operation (INFO cpu: parsing, scripts, replies), read on another
      // connection around each slice. Not INFO commandstats: a script's usec already holds the
      // commands it calls, which are counted again under their own names, and it is wall time.
      const serverCpuUs = serverCpuOf((section) => raw.info(section))
      const subject = (name: string, op: (seq: number) => Promise<unknown>, counted = false) => {
        let ops = 0
        const inner = closedLoopSubject(
          name,
          (seq) => {
            ops++
            return op(seq)
          },
          { concurrency: CONCURRENCY, sliceMs, warmupMs, signal: ctx.signal, serverCpuUs },
        )
        return {
          ...inner,
          async slice(round: number) {
            sends.reset()
            ops = 0
            const figures = await inner.slice(round)
            if (counted && ops > 0) perOp.set(name, sends.count / ops)
            return figures
          },
        }
      }
      const key = (seq: number) => `user-${seq % KEYS}`

      // 1. Decisions over 1,000 keys at 100 per second each (an API limit): past 100,000 decisions/s some are refused.
      const limit = 100
      const peer = new RateLimiterRedis({ storeClient: peerClient, useRedisPackage: true, points: limit, duration: 1, keyPrefix: 'rlf' })
      const fixed = rk.rateLimiter('fixed', { limit, windowMs: 1000, algorithm: 'fixed-window', inMemoryBlock: false })
      const sliding = rk.rateLimiter('sliding', { limit, windowMs: 1000, algorithm: 'sliding-window', inMemoryBlock: false })
      const bucket = rk.rateLimiter('bucket', { limit, windowMs: 1000, algorithm: 'token-bucket', inMemoryBlock: false })
      const ceilingSha = await raw.scriptLoad('return 1')
      const RAW = 'node-redis EVALSHA return 1 (ceiling: one script call)'
      const RLF = 'rate-limiter-flexible RateLimiterRedis'
      const RK_FIXED = 'redkit rateLimiter fixed-window'
      const RK_SLIDING = 'redkit rateLimiter sliding-window (buckets)'
      const RK_BUCKET = 'redkit rateLimiter token-bucket (GCRA)'
      ctx.log(`rate limiter: ${KEYS} keys, concurrency ${CONCURRENCY}, slices of ${sliceMs} ms, ${rounds} rounds`)
      const decisions = await interleave(
        [
          subject(RAW, (seq) => raw.evalSha(ceilingSha, { keys: [`raw:${key(seq)}`] })),
          subject(RLF, (seq) => peer.consume(key(seq)).catch(() => undefined)),
          subject(RK_FIXED, (seq) => fixed.consume(key(seq)), true),
          subject(RK_SLIDING, (seq) => sliding.consume(key(seq)), true),
          subject(RK_BUCKET, (seq) => bucket.consume(key(seq)), true),
        ],
        { rounds, baseline: RLF, ratioOf: ['ops/s'], signal: ctx.signal, onSlice: logSlice(ctx) },
      )
      const params = { concurrency: CONCURRENCY, keys: KEYS, sliceMs, rounds }
      recordInterleave(ctx, decisions, {
        units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', 'server µs/op': 'µs' },
        params: { ...params, group: 'decisions' },
      })
      for (const ours of [RK_FIXED, RK_SLIDING, RK_BUCKET]) recordPairRatio(ctx, decisions, ours, [RLF], RLF, params)
      recordPairRatio(ctx, decisions, RK_FIXED, [RAW], 'the one-script ceiling', params)

      // 2. One hot key far over its limit.
      const hotPeer = new RateLimiterRedis({
        storeClient: peerClient,
        useRedisPackage: true,
        points: 10,
        duration: 600,
        keyPrefix: 'rlf-hot',
      })
      const hotPeerBlock = new RateLimiterRedis({
        storeClient: peerClient,
        useRedisPackage: true,
        points: 10,
        duration: 600,
        keyPrefix: 'rlf-hot-block',
        inMemoryBlockOnConsumed: 10,
      })
      const hot = rk.rateLimiter('hot', { limit: 10, windowMs: 600_000 })
      const HOT_RLF = 'rate-limiter-flexible hot key'
      const HOT_RLF_BLOCK = 'rate-limiter-flexible hot key + inMemoryBlockOnConsumed'
      const HOT_RK = 'redkit hot key + in-memory block'
      const denied = (promise: Promise<unknown>) => promise.catch(() => undefined)
      const hotResult = await interleave(
        [
          subject(HOT_RLF, () => denied(hotPeer.consume('hot'))),
          subject(HOT_RLF_BLOCK, () => denied(hotPeerBlock.consume('hot'))),
          subject(HOT_RK, () => hot.consume('hot'), true),
        ],
        { rounds, baseline: HOT_RLF, ratioOf: ['ops/s'], signal: ctx.signal, onSlice: logSlice(ctx) },
      )
      recordInterleave(ctx, hotResult, {
        units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', 'server µs/op': 'µs' },
        params: { ...params, group: 'hot key' },
      })
      recordPairRatio(ctx, hotResult, HOT_RK, [HOT_RLF], HOT_RLF, params)
      recordPairRatio(ctx, hotResult, HOT_RK, [HOT_RLF_BLOCK], HOT_RLF_BLOCK, params)

      // 3. Leaderboard incr + rank over 10,000 members.
      const MEMBERS = 10_000
      const board = rk.leaderboard('board')
      const LB_RAW = 'node-redis pipelined ZINCRBY + ZREVRANK'
      const LB_RK = 'redkit leaderboard incr (score + rank, ordered ties)'
      const LB_CEILING = 'batched EVALSHA ZINCRBY + ZREVRANK (ceiling: batching, no ordered ties)'
      const lbSha = await raw.scriptLoad(
        "local out = {} for i = 1, #ARGV do local s = redis.call('ZINCRBY', KEYS[1], 1, ARGV[i]) out[#out + 1] = s out[#out + 1] = redis.call('ZREVRANK', KEYS[1], ARGV[i]) end return out",
      )
      const lbBatch = new TickBatcher<number, string, [string, number]>(async (_group, members) => {
        const reply = (await raw.evalSha(lbSha, { keys: ['raw:board-batched'], arguments: [...members] })) as Array<string | number>
        return members.map((_, i) => [String(reply[2 * i]), Number(reply[2 * i + 1])] as [string, number])
      })
      const lbResult = await interleave(
        [
          subject(LB_RAW, (seq) => {
            const m = `p${seq % MEMBERS}`
            return Promise.all([raw.zIncrBy('raw:board', 1, m), raw.zRevRank('raw:board', m)])
          }),
          subject(LB_RK, (seq) => board.incr(`p${seq % MEMBERS}`), true),
          subject(LB_CEILING, (seq) => lbBatch.run(0, `p${seq % MEMBERS}`)),
        ],
        { rounds, baseline: LB_RAW, ratioOf: ['ops/s'], signal: ctx.signal, onSlice: logSlice(ctx) },
      )
      recordInterleave(ctx, lbResult, {
        units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', 'server µs/op': 'µs' },
        params: { ...params, group: 'leaderboard', members: MEMBERS },
      })
      recordPairRatio(ctx, lbResult, LB_RK, [LB_RAW], LB_RAW, params)
      recordPairRatio(ctx, lbResult, LB_RK, [LB_CEILING], 'the batched ZINCRBY + ZREVRANK ceiling', params)

      // 4. Timeseries incr, 4 granularities.
      const series = rk.timeseries('views')
      const TS_RAW = 'node-redis MULTI 4 x (INCRBY + PEXPIREAT)'
      const TS_RK = 'redkit timeseries incr (4 granularities)'
      const tsResult = await interleave(
        [
          subject(TS_RAW, () => {
            const now = Date.now()
            const multi = raw.multi()
            for (const [g, size] of [
              ['minute', 60_000],
              ['hour', 3_600_000],
              ['day', 86_400_000],
              ['month', 2_678_400_000],
            ] as const) {
              const start = now - (now % size)
              multi.incrBy(`raw:ts:${g}:${start}`, 1).pExpireAt(`raw:ts:${g}:${start}`, start + size + 86_400_000)
            }
            return multi.exec()
          }),
          subject(TS_RK, () => series.incr(), true),
        ],
        { rounds, baseline: TS_RAW, ratioOf: ['ops/s'], signal: ctx.signal, onSlice: logSlice(ctx) },
      )
      recordInterleave(ctx, tsResult, {
        units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', 'server µs/op': 'µs' },
        params: { ...params, group: 'timeseries' },
      })
      recordPairRatio(ctx, tsResult, TS_RK, [TS_RAW], TS_RAW, params)

      for (const [name, value] of perOp) {
        ctx.record({ subject: name, metric: 'redis calls/op', value, unit: '', params: { ...params, stat: 'last slice' } })
        ctx.log(`${name}: ${value.toFixed(3)} Redis calls per operation`)
      }
    } finally {
      await Promise.allSettled([raw.destroy(), peerClient.destroy(), rk.close()])
    }
  },
})
