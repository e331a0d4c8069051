/**
 * redkit locks against redlock 5 and redis-semaphore 5 on the same throwaway Redis, in interleaved
 * slices (bench/lib/interleave.ts):
 * - contention: 16 contenders on one lock in one process, each critical section a GET + SET
 *   increment (sent on one shared node-redis client for every subject, so only the locks differ):
 *   sections/s, the longest wait for the lock, the smallest and largest contender's share of the
 *   sections (1 = the mean), and lost updates (sections minus the counter's final value);
 * - uncontended acquire + release, one caller: p50 against a bare `SET NX PX` + compare-and-delete
 *   script on node-redis (the floor for a two-round-trip lock);
 * - semaphore, 4 permits and 16 contenders, each section one GET: sections/s and the most holders
 *   seen at once, against redis-semaphore's Semaphore and two ceilings (one trivial script per
 *   section; the least a FIFO semaphore with a fencing token per grant does in one script).
 * Every contended slice also reports client and server CPU µs per section (process.cpuUsage, INFO
 * cpu): on a shared machine they are steadier than sections/s.
 * Peers wait the way their docs suggest: redis-semaphore polls every 10 ms (its default), redlock
 * retries every 10 ms with 10 ms jitter and without a retry limit (its defaults, 200 ms x 10
 * attempts, give up under this load).
 */
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { Mutex, Semaphore as PeerSemaphore } from 'redis-semaphore'
import Redlock from 'redlock'
import { createRedkit } from '../src/index.js'
import { closedLoopSubject, type Figures, interleave, recordInterleave, sliceTiming } from './lib/interleave.js'
import { sleep } from './lib/stats.js'
import { defineBenchmark } from './lib/types.js'

const CONTENDERS = 16
const PERMITS = 4
const TTL_MS = 10_000

type Acquire = (contender: number) => Promise<() => Promise<unknown>>

export default defineBenchmark({
  name: 'lock',
  description: 'redkit fair mutex and semaphore vs redlock and redis-semaphore: contention, fairness, uncontended latency',
  async run(ctx) {
    const timing = sliceTiming(ctx)
    // 16 contenders for 10 s per subject: four 2.5 s slices (quick: two 0.5 s slices).
    const sliceMs = ctx.quick ? 500 : 2500
    const rounds = ctx.quick ? 2 : 4
    const url = ctx.redisUrl
    const raw = createClient({ url, commandOptions: { timeout: 0 } })
    raw.on('error', () => {})
    const ioredis = new Redis(url, { lazyConnect: true, enableAutoPipelining: false })
    ioredis.on('error', () => {})
    const rk = await createRedkit({ url, prefix: 'bench' })
    try {
      await Promise.all([raw.connect(), ioredis.connect()])
      const redlock = new Redlock([ioredis], { retryCount: -1, retryDelay: 10, retryJitter: 10 })

      // CPU per section, both sides: on a shared 2-core machine throughput follows client + server
      // CPU per section more than anything else (and wall-clock figures move 30-60 % between runs).
      const serverCpuUs = async () => {
        const info = await raw.info('cpu')
        const of = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0)
        return (of('used_cpu_sys') + of('used_cpu_user')) * 1e6
      }
      const cpuMeter = async () => {
        const server = await serverCpuUs()
        const client = process.cpuUsage()
        return async (sections: number) => {
          const used = process.cpuUsage(client)
          const serverUs = (await serverCpuUs()) - server
          return { 'client µs/section': (used.user + used.system) / sections, 'server µs/section': serverUs / sections }
        }
      }

      // ---- contention ---------------------------------------------------------------------------
      const section = async (key: string) => {
        const value = Number(await raw.get(key))
        await raw.set(key, String(value + 1))
      }
      const contention = (name: string, acquire: Acquire): { name: string; slice(round: number): Promise<Figures> } => ({
        name,
        async slice(round) {
          const key = `counter:${name}:${round}`
          await raw.set(key, '0')
          const counts = new Array<number>(CONTENDERS).fill(0)
          let maxWait = 0
          let errors = 0
          let stop = false
          const cpu = await cpuMeter()
          const started = performance.now()
          const loops = counts.map(async (_, i) => {
            while (!stop) {
              const asked = performance.now()
              let release: () => Promise<unknown>
              try {
                release = await acquire(i)
              } catch {
                errors++
                continue
              }
              maxWait = Math.max(maxWait, performance.now() - asked)
              await section(key)
              counts[i] = (counts[i] ?? 0) + 1
              await release()
            }
          })
          await sleep(round < 0 ? timing.warmupMs : sliceMs, ctx.signal)
          stop = true
          const elapsed = performance.now() - started
          await Promise.all(loops)
          const total = counts.reduce((a, b) => a + b, 0)
          const used = await cpu(total)
          const final = Number(await raw.get(key))
          const mean = total / CONTENDERS
          return {
            'sections/s': (total / elapsed) * 1000,
            ...used,
            'max wait': maxWait,
            'min share': Math.min(...counts) / mean,
            'max share': Math.max(...counts) / mean,
            'lost updates': total - final,
            errors,
          }
        },
      })
      const rkLocks = Array.from({ length: CONTENDERS }, () => rk.lock('contended', { ttlMs: TTL_MS }))
      const rkUnfair = Array.from({ length: CONTENDERS }, () => rk.lock('contended-unfair', { ttlMs: TTL_MS, fair: false }))
      const mutexes = Array.from(
        { length: CONTENDERS },
        () => new Mutex(ioredis, 'rs-contended', { lockTimeout: TTL_MS, acquireTimeout: 60_000, refreshInterval: 0 }),
      )
      const RK = 'redkit lock (fair)'
      // Ceilings, same load: a lock whose handoff costs exactly one trivial script round trip per
      // section (what any lock that hands out a new fencing token per section must pay at least),
      // and the critical sections back to back with no lock at all.
      const floorSha = String(await raw.scriptLoad('return 1'))
      let turn = Promise.resolve()
      const contenders = [
        contention('ceiling: one trivial script per handoff', async () => {
          const previous = turn
          let done!: () => void
          turn = new Promise<void>((resolve) => {
            done = resolve
          })
          await previous
          return async () => {
            await raw.sendCommand(['EVALSHA', floorSha, '0'])
            done()
          }
        }),
        contention(RK, async (i) => {
          const lock = rkLocks[i]!
          await lock.acquire({ timeoutMs: 60_000 })
          return () => lock.release()
        }),
        contention('redkit lock (fair: false)', async (i) => {
          const lock = rkUnfair[i]!
          await lock.acquire({ timeoutMs: 60_000 })
          return () => lock.release()
        }),
        contention('redlock', async () => {
          const lock = await redlock.acquire(['rl-contended'], TTL_MS)
          return () => lock.release()
        }),
        contention('redis-semaphore Mutex', async (i) => {
          const mutex = mutexes[i]!
          await mutex.acquire()
          return () => mutex.release()
        }),
      ]
      ctx.log(`contention: ${CONTENDERS} contenders, ${rounds} slices of ${sliceMs} ms per subject`)
      const contended = await interleave(contenders, {
        rounds,
        signal: ctx.signal,
        ratioOf: ['sections/s'],
        onSlice: ({ round, subject, figures }) =>
          ctx.log(
            `  round ${round} ${subject}: ${Math.round(figures['sections/s'] ?? 0)} sections/s ` +
              `(client ${(figures['client µs/section'] ?? 0).toFixed(1)} + server ${(figures['server µs/section'] ?? 0).toFixed(1)} µs/section), max wait ${(figures['max wait'] ?? 0).toFixed(1)} ms, ` +
              `shares ${(figures['min share'] ?? 0).toFixed(2)}..${(figures['max share'] ?? 0).toFixed(2)}, lost ${figures['lost updates']}, errors ${figures.errors}`,
          ),
      })
      recordInterleave(ctx, contended, {
        units: {
          'sections/s': 'ops/s',
          'client µs/section': 'µs',
          'server µs/section': 'µs',
          'max wait': 'ms',
          'min share': 'x',
          'max share': 'x',
          'lost updates': '',
          errors: '',
        },
        params: { contenders: CONTENDERS, sliceMs, rounds, ttlMs: TTL_MS },
      })
      const perRoundBest = (ours: string, peers: string[]) => {
        const of = (name: string) => contended.subjects.find((s) => s.name === name)?.slices ?? []
        const ratios = of(ours).map((f, r) => (f['sections/s'] ?? 0) / Math.max(...peers.map((p) => of(p)[r]?.['sections/s'] ?? 0)))
        const sorted = [...ratios].sort((a, b) => a - b)
        const median = sorted.length % 2 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
        ctx.record({ subject: ours, metric: 'sections/s vs best peer', value: median, unit: 'x', params: { perRound: ratios } })
        ctx.log(`${ours} / best peer: ${median.toFixed(2)}x (per round ${ratios.map((r) => r.toFixed(2)).join(', ')})`)
        const maxWait = Math.max(...of(ours).map((f) => f['max wait'] ?? 0))
        ctx.record({ subject: ours, metric: 'max wait (all slices)', value: maxWait, unit: 'ms' })
      }
      perRoundBest(RK, ['redlock', 'redis-semaphore Mutex'])
      perRoundBest('ceiling: one trivial script per handoff', ['redlock', 'redis-semaphore Mutex'])
      perRoundBest('redkit lock (fair: false)', ['redlock', 'redis-semaphore Mutex'])

      // ---- uncontended ----------------------------------------------------------------------------
      const releaseSha = String(
        await raw.scriptLoad("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"),
      )
      const single = rk.lock('single', { ttlMs: TTL_MS })
      const singleMutex = new Mutex(ioredis, 'rs-single', { lockTimeout: TTL_MS, refreshInterval: 0 })
      const loop = (name: string, op: (seq: number) => Promise<unknown>) =>
        closedLoopSubject(name, op, { concurrency: 1, sliceMs: timing.sliceMs, warmupMs: timing.warmupMs, signal: ctx.signal })
      const BARE = 'node-redis SET NX PX + release script'
      const uncontended = await interleave(
        [
          loop(BARE, async (seq) => {
            const token = `t${seq}`
            await raw.sendCommand(['SET', 'bare-lock', token, 'NX', 'PX', String(TTL_MS)])
            await raw.sendCommand(['EVALSHA', releaseSha, '1', 'bare-lock', token])
          }),
          loop('redkit tryAcquire + release', async () => {
            if (!(await single.tryAcquire())) throw new Error('uncontended lock busy')
            await single.release()
          }),
          loop('redis-semaphore Mutex acquire + release', async () => {
            await singleMutex.acquire()
            await singleMutex.release()
          }),
          loop('redlock acquire + release', async () => {
            const lock = await redlock.acquire(['rl-single'], TTL_MS)
            await lock.release()
          }),
        ],
        { rounds: timing.rounds, baseline: BARE, ratioOf: ['p50', 'ops/s'], signal: ctx.signal },
      )
      recordInterleave(ctx, uncontended, { units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms' }, params: { concurrency: 1 } })
      for (const ratio of uncontended.ratios.filter((r) => r.metric === 'p50'))
        ctx.log(
          `${ratio.subject} p50 / bare: ${ratio.median.toFixed(2)}x (per round ${ratio.perRound.map((r) => r.toFixed(2)).join(', ')})`,
        )

      // ---- semaphore ------------------------------------------------------------------------------
      let inside = 0
      let most = 0
      const semaphoreSubject = (name: string, acquire: Acquire) => ({
        name,
        async slice(round: number): Promise<Figures> {
          inside = 0
          most = 0
          const counts = new Array<number>(CONTENDERS).fill(0)
          let stop = false
          const cpu = await cpuMeter()
          const started = performance.now()
          const loops = counts.map(async (_, i) => {
            while (!stop) {
              const release = await acquire(i)
              inside++
              most = Math.max(most, inside)
              await raw.get('sem-work')
              inside--
              counts[i] = (counts[i] ?? 0) + 1
              await release()
            }
          })
          await sleep(round < 0 ? timing.warmupMs : sliceMs, ctx.signal)
          stop = true
          const elapsed = performance.now() - started
          await Promise.all(loops)
          const total = counts.reduce((a, b) => a + b, 0)
          const mean = total / CONTENDERS
          return {
            'sections/s': (total / elapsed) * 1000,
            ...(await cpu(total)),
            'most holders': most,
            'min share': Math.min(...counts) / mean,
          }
        },
      })
      const rkSems = Array.from({ length: CONTENDERS }, () => rk.semaphore('pool', { permits: PERMITS, ttlMs: TTL_MS }))
      const peerSems = Array.from(
        { length: CONTENDERS },
        () => new PeerSemaphore(ioredis, 'rs-pool', PERMITS, { lockTimeout: TTL_MS, acquireTimeout: 60_000, refreshInterval: 0 }),
      )
      const RS = 'redis-semaphore Semaphore'
      // Ceilings, same load, permits handed out in arrival order in this process: one trivial
      // script round trip per section, and the least Redis work a FIFO semaphore with a fencing
      // token per grant does in one script per section (queue the next attempt, drop the
      // releaser's hold, pop the head and grant it a new token), with no client bookkeeping at all.
      const minimalSha = String(
        await raw.scriptLoad(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000000 + tonumber(t[2]) + i, ARGV[i])
  redis.call('HSET', KEYS[3], ARGV[i], now + 3000)
end
redis.call('HDEL', KEYS[1], ARGV[1])
local head = redis.call('ZPOPMIN', KEYS[2])[1]
if not head then return false end
redis.call('HDEL', KEYS[3], head)
local f = redis.call('HINCRBY', KEYS[1], '_f', 1)
redis.call('HSET', KEYS[1], head, (now + ${TTL_MS}) .. ':' .. f)
return head`),
      )
      const localFifo = (release: (me: string, riders: string[]) => Promise<string | undefined>): Acquire => {
        let free = PERMITS
        let seq = 0
        let riders: string[] = []
        const waiting = new Map<string, () => void>()
        return async () => {
          const me = `w${seq++}`
          if (free > 0) free--
          else
            await new Promise<void>((resolve) => {
              waiting.set(me, resolve)
              riders.push(me)
            })
          return async () => {
            const ride = riders
            riders = []
            const next = await release(me, ride)
            const wake = next === undefined ? undefined : waiting.get(next)
            if (next !== undefined) waiting.delete(next)
            if (wake) wake()
            else free++
          }
        }
      }
      const trivialOrder: string[] = []
      const semaphores = await interleave(
        [
          semaphoreSubject(
            'ceiling: one trivial script per section',
            localFifo(async (_me, riders) => {
              trivialOrder.push(...riders)
              await raw.sendCommand(['EVALSHA', floorSha, '0'])
              return trivialOrder.shift()
            }),
          ),
          semaphoreSubject(
            'ceiling: minimal FIFO + fencing script per section',
            localFifo(async (me, riders) => {
              const head = await raw.sendCommand(['EVALSHA', minimalSha, '3', 'min-h', 'min-q', 'min-w', me, ...riders])
              return typeof head === 'string' ? head : undefined
            }),
          ),
          semaphoreSubject(RS, async (i) => {
            const s = peerSems[i]!
            await s.acquire()
            return () => s.release()
          }),
          semaphoreSubject('redkit semaphore', async (i) => {
            const s = rkSems[i]!
            await s.acquire({ timeoutMs: 60_000 })
            return () => s.release()
          }),
        ],
        { rounds, baseline: RS, ratioOf: ['sections/s'], signal: ctx.signal },
      )
      recordInterleave(ctx, semaphores, {
        units: { 'sections/s': 'ops/s', 'client µs/section': 'µs', 'server µs/section': 'µs', 'most holders': '', 'min share': 'x' },
        params: { permits: PERMITS, contenders: CONTENDERS, sliceMs, rounds },
      })
      for (const ratio of semaphores.ratios)
        ctx.log(`${ratio.subject} / ${RS}: ${ratio.median.toFixed(2)}x (per round ${ratio.perRound.map((r) => r.toFixed(2)).join(', ')})`)
    } finally {
      await Promise.allSettled([raw.destroy(), ioredis.quit(), rk.close()])
    }
  },
})
