/**
 * Expiry lateness: redkit's reliable expirations against raw keyspace notifications, on the same
 * throwaway Redis, in one run. For each scenario both subjects get the same deadline layout;
 * lateness = time the handler ran - deadline. Scenarios (issues 3 and 10):
 *  - steady rates: 1,000 and 10,000 expirations/s spread evenly;
 *  - 100,000 keys with deadlines spread over 1-3 s;
 *  - a burst: 100,000 keys due at the same ms (lateness bounded below by throughput);
 *  - the same with 100,000 other keys carrying a 1-hour TTL (they slow Redis's active expiry);
 *  - 1,000,000 keys with deadlines spread over 10 s (sustained delivery of 100,000 expirations/s);
 *  - 20,000 keys with 200-byte values (issue 10 item 13: bytes the stream retains per acknowledged event).
 * Then `set` throughput: standalone against a 3-master cluster started for the run, interleaved.
 * `REDKIT_EXPIRY_SCENARIOS=100k,20k` runs only the scenarios whose names start with those words.
 */

import { createClient } from 'redis'
import { startRedisServer } from '../packages/server/src/redis-process.js'
import { createRedkit } from '../src/index.js'
import { clusterArgs, formCluster } from '../test/support/cluster.js'
import { createLatencyHistogram, summarize } from './lib/load.js'
import { sleep } from './lib/stats.js'
import { type BenchContext, defineBenchmark } from './lib/types.js'

interface Scenario {
  name: string
  keys: number
  spreadMs: number
  noise: number
  /** Size of each key's value; kept with the event (`withValue`) in reliable mode when > 0. */
  valueBytes?: number
}

interface Outcome {
  /** Keys whose write finished after their deadline: their lateness measures the write phase. */
  lateWrites: number
  delivered: number
  p50: number
  p99: number
  max: number
  deliveredPerSec: number
  setupMs: number
  /** Reliable mode: bytes the event stream and its values hold per event, once every event is acknowledged and trimmed. */
  bytesPerEvent?: number
}

function newClient(url: string) {
  return createClient({ url, commandOptions: { timeout: 0 } })
}
type Client = ReturnType<typeof newClient>

/**
 * Deadlines start once the keys are written: a margin sized from a conservative write rate, so the
 * figures measure delivery, not a write phase that overran its deadlines (the write time is
 * reported; when it exceeds the margin the lateness figures include it).
 */
function layout(n: number, spreadMs: number, writesPerSec: number): { start: number; deadline: (i: number) => number } {
  const start = Date.now() + Math.ceil((n / writesPerSec) * 1000) + 500
  // Spread evenly (shuffled by index) so the delivery rate is n / spread.
  return { start, deadline: (i) => Math.round(start + ((i * 7919) % n) * (spreadMs / n)) }
}

async function fillNoise(client: Client, count: number): Promise<void> {
  for (let i = 0; i < count; i += 5000) {
    const batch = client.multi()
    for (let j = i; j < Math.min(count, i + 5000); j++) batch.set(`noise:${j}`, 'x', { PX: 3_600_000 })
    await batch.execAsPipeline()
  }
}

async function runNative(ctx: BenchContext, client: Client, scenario: Scenario, tag: string): Promise<Outcome> {
  await client.configSet('notify-keyspace-events', 'Ex')
  const subscriber = client.duplicate()
  subscriber.on('error', (error: Error) => ctx.log(`subscriber: ${error.message}`))
  await subscriber.connect()
  const histogram = createLatencyHistogram()
  const deadlines = new Map<string, number>()
  let delivered = 0
  let last = 0
  await subscriber.subscribe('__keyevent@0__:expired', (key) => {
    const deadline = deadlines.get(key)
    if (deadline === undefined) return
    const now = Date.now()
    histogram.recordValue(Math.max(0, now - deadline) * 1000)
    deadlines.delete(key)
    delivered++
    last = now
  })
  const setupStart = Date.now()
  let lateWrites = 0
  const plan = layout(scenario.keys, scenario.spreadMs, 50_000)
  for (let i = 0; i < scenario.keys; i += 5000) {
    const batch = client.multi()
    for (let j = i; j < Math.min(scenario.keys, i + 5000); j++) {
      const key = `${tag}:${j}`
      const deadline = plan.deadline(j)
      if (deadline <= Date.now()) lateWrites++
      deadlines.set(key, deadline)
      batch.set(key, scenario.valueBytes ? 'v'.repeat(scenario.valueBytes) : 'v', { PXAT: deadline })
    }
    await batch.execAsPipeline()
  }
  const setupMs = Date.now() - setupStart
  await waitForAll(ctx, () => delivered, scenario.keys, plan.start + scenario.spreadMs)
  await subscriber.close()
  await client.configSet('notify-keyspace-events', '')
  return outcome(histogram, { lateWrites, delivered, setupMs, firstDeadline: plan.start, lastArrival: last })
}

async function runReliable(ctx: BenchContext, scenario: Scenario, tag: string): Promise<Outcome> {
  const rk = await createRedkit({ url: ctx.redisUrl, prefix: `b${tag}` })
  rk.expirations.events.on('error', (error) => ctx.log(`reliable: ${error.message}`))
  const histogram = createLatencyHistogram()
  let delivered = 0
  let last = 0
  const sub = await rk.expirations.on(
    `${tag}:*`,
    (event) => {
      histogram.recordValue(Math.max(0, event.lateMs ?? 0) * 1000)
      delivered++
      last = event.firedAt
    },
    { group: 'bench', concurrency: 256, withValue: Boolean(scenario.valueBytes) },
  )
  const value = scenario.valueBytes ? 'v'.repeat(scenario.valueBytes) : 1
  // The write rate measured now, halved: a write phase that overruns its deadlines measures writing
  // (and competes with delivery), not delivery.
  const rate = await writeRate(rk, `${tag}w`, value)
  const setupStart = Date.now()
  let lateWrites = 0
  const plan = layout(scenario.keys, scenario.spreadMs, Math.max(500, Math.min(50_000, rate / 2)))
  const inFlight = 2000
  for (let i = 0; i < scenario.keys; i += inFlight) {
    const writes: Promise<number>[] = []
    for (let j = i; j < Math.min(scenario.keys, i + inFlight); j++) {
      const ttlMs = Math.round(plan.deadline(j) - Date.now())
      if (ttlMs < 1) lateWrites++
      writes.push(rk.expirations.set(`${tag}:${j}`, value, { ttlMs: Math.max(1, ttlMs), keepValue: Boolean(scenario.valueBytes) }))
    }
    await Promise.all(writes)
  }
  const setupMs = Date.now() - setupStart
  await waitForAll(ctx, () => delivered, scenario.keys, plan.start + scenario.spreadMs)
  // Every event is acknowledged; the sweeper trims about once a second (values at once, events after replayMs).
  await sleep(2500, ctx.signal)
  const bytesPerEvent = await retainedBytes(rk, delivered)
  await sub.close()
  await rk.close()
  return { ...outcome(histogram, { lateWrites, delivered, setupMs, firstDeadline: plan.start, lastArrival: last }), bytesPerEvent }
}

/** Sets per second of this redkit right now (2,000 keys an hour away, deleted after). */
async function writeRate(rk: Awaited<ReturnType<typeof createRedkit>>, tag: string, value: unknown): Promise<number> {
  const n = 2000
  const start = performance.now()
  await Promise.all(Array.from({ length: n }, (_, i) => rk.expirations.set(`${tag}:${i}`, value, { ttlMs: 3_600_000, keepValue: false })))
  const rate = n / ((performance.now() - start) / 1000)
  await Promise.all(Array.from({ length: n }, (_, i) => rk.expirations.delete(`${tag}:${i}`)))
  return rate
}

/** Bytes of the event stream and of its kept values, per delivered event. */
async function retainedBytes(rk: Awaited<ReturnType<typeof createRedkit>>, events: number): Promise<number> {
  const exp = rk.keys.object('exp')
  let bytes = 0
  for (const key of [exp('events'), exp('evals')])
    bytes += Number((await rk.connection.send(['MEMORY', 'USAGE', key, 'SAMPLES', '0'], { key })) ?? 0)
  return bytes / Math.max(1, events)
}

/** `set` throughput of one redkit: `count` sets, `inFlight` at a time, deadlines an hour away. */
async function setRate(options: Parameters<typeof createRedkit>[0], count: number, tag: string): Promise<number> {
  const rk = await createRedkit({ ...options, prefix: tag })
  try {
    const inFlight = 1000
    // Warm the connections (and, on Cluster, every node's).
    await Promise.all(Array.from({ length: 200 }, (_, i) => rk.expirations.set(`warm:${i}`, 1, { ttlMs: 3_600_000, keepValue: false })))
    const start = performance.now()
    for (let i = 0; i < count; i += inFlight) {
      const writes: Promise<number>[] = []
      for (let j = i; j < Math.min(count, i + inFlight); j++)
        writes.push(rk.expirations.set(`k:${j}`, 1, { ttlMs: 3_600_000, keepValue: false }))
      await Promise.all(writes)
    }
    return count / ((performance.now() - start) / 1000)
  } finally {
    await rk.close()
  }
}

/** Issue 10 item 14: `set` on a 3-master cluster against the standalone server, interleaved rounds. */
async function setThroughput(ctx: BenchContext): Promise<void> {
  const nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ args: clusterArgs(15_000) })))
  try {
    await formCluster(nodes)
    const cluster = { cluster: { rootNodes: nodes.map((n) => n.url) } }
    const count = ctx.quick ? 5000 : 50_000
    const rates: Record<'standalone' | 'cluster', number[]> = { standalone: [], cluster: [] }
    for (let round = 0; round < 3 && !ctx.signal.aborted; round++) {
      const order = round % 2 === 0 ? (['standalone', 'cluster'] as const) : (['cluster', 'standalone'] as const)
      for (const subject of order) {
        const rate = await setRate(subject === 'cluster' ? cluster : { url: ctx.redisUrl }, count, `s${subject[0]}${round}`)
        rates[subject].push(rate)
        ctx.log(`set throughput round ${round}: ${subject} ${Math.round(rate)} sets/s`)
        ctx.record({
          subject: `redkit set · ${subject === 'cluster' ? '3-master cluster' : 'standalone'}`,
          metric: 'ops/s',
          value: rate,
          unit: 'ops/s',
          params: { count, inFlight: 1000 },
          slice: round,
        })
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
    const s = median(rates.standalone)
    const c = median(rates.cluster)
    ctx.record({ subject: 'redkit set · standalone', metric: 'ops/s', value: s, unit: 'ops/s', params: { count } })
    ctx.record({ subject: 'redkit set · 3-master cluster', metric: 'ops/s', value: c, unit: 'ops/s', params: { count } })
    if (s > 0)
      ctx.record({ subject: 'redkit set · cluster / standalone', metric: 'ops/s ratio', value: c / s, unit: 'x', params: { count } })
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

/** Summarizes one subject's run: lateness percentiles and the delivery rate since the first deadline. */
function outcome(
  histogram: ReturnType<typeof createLatencyHistogram>,
  run: { lateWrites: number; delivered: number; setupMs: number; firstDeadline: number; lastArrival: number },
): Outcome {
  const s = summarize(histogram)
  return {
    lateWrites: run.lateWrites,
    delivered: run.delivered,
    p50: s.p50,
    p99: s.p99,
    max: s.max,
    deliveredPerSec: run.delivered / Math.max(0.001, (run.lastArrival - run.firstDeadline) / 1000),
    setupMs: run.setupMs,
  }
}

/** Waits until everything arrived, or 60 s past the last deadline (native mode can lag that much). */
async function waitForAll(ctx: BenchContext, count: () => number, expected: number, lastDeadline: number): Promise<void> {
  let reported = 0
  while (count() < expected && Date.now() < lastDeadline + 60_000 && !ctx.signal.aborted) {
    await sleep(100, ctx.signal)
    if (Date.now() - reported > 5000) {
      reported = Date.now()
      ctx.log(`  ${count()} / ${expected} delivered`)
    }
  }
}

export default defineBenchmark({
  name: 'expiry',
  description: 'expiry lateness p50/p99/max and delivery: reliable expirations vs keyspace notifications',
  async run(ctx) {
    const scale = ctx.quick ? 0.1 : 1
    const scenarios: Scenario[] = [
      // Steady rates: lateness when delivery keeps up (the 10 ms target is about these).
      { name: 'steady 1k/s (10k keys over 10 s)', keys: 10_000 * scale, spreadMs: 10_000, noise: 0 },
      { name: 'steady 10k/s (50k keys over 5 s)', keys: 50_000 * scale, spreadMs: 5000, noise: 0 },
      { name: '100k keys, 1-3 s', keys: 100_000 * scale, spreadMs: 2000, noise: 0 },
      // Every key due at the same ms: lateness is bounded below by throughput (the last of 100,000 at 100,000/s is 1 s late).
      { name: 'burst 100k keys due at the same ms', keys: 100_000 * scale, spreadMs: 0, noise: 0 },
      { name: '100k keys + 100k 1 h TTL', keys: 100_000 * scale, spreadMs: 2000, noise: 100_000 * scale },
      { name: '1M keys over 10 s', keys: 1_000_000 * scale, spreadMs: 10_000, noise: 0 },
      { name: '20k keys, 200-byte values', keys: 20_000 * scale, spreadMs: 1000, noise: 0, valueBytes: 200 },
    ].filter((scenario) => {
      const only = process.env.REDKIT_EXPIRY_SCENARIOS?.split(',').filter(Boolean)
      return !only || only.some((word) => scenario.name.startsWith(word))
    })
    const client = newClient(ctx.redisUrl)
    client.on('error', (error: Error) => ctx.log(`client: ${error.message}`))
    await client.connect()
    try {
      let run = 0
      for (const scenario of scenarios) {
        if (ctx.signal.aborted) break
        await client.flushAll()
        if (scenario.noise > 0) await fillNoise(client, scenario.noise)
        // Alternate which subject goes first, so neither always runs on a fresher server.
        const order: Array<'native' | 'reliable'> = run % 2 === 0 ? ['native', 'reliable'] : ['reliable', 'native']
        const outcomes: Record<string, Outcome> = {}
        for (const subject of order) {
          ctx.log(`${scenario.name}: ${subject}...`)
          const tag = `${subject[0]}${run}`
          outcomes[subject] = subject === 'native' ? await runNative(ctx, client, scenario, tag) : await runReliable(ctx, scenario, tag)
          await sleep(500, ctx.signal)
        }
        run++
        const params = { scenario: scenario.name, keys: scenario.keys, spreadMs: scenario.spreadMs, noiseKeys: scenario.noise }
        for (const [subject, o] of Object.entries(outcomes)) {
          const name = `${scenario.name} · ${subject === 'native' ? 'keyspace notifications' : 'redkit reliable'}`
          ctx.record({ subject: name, metric: 'p50', value: o.p50, unit: 'ms', params })
          ctx.record({ subject: name, metric: 'p99', value: o.p99, unit: 'ms', params })
          ctx.record({ subject: name, metric: 'max', value: o.max, unit: 'ms', params })
          ctx.record({ subject: name, metric: 'delivered', value: (o.delivered / scenario.keys) * 100, unit: '%', params })
          ctx.record({ subject: name, metric: 'delivery rate', value: o.deliveredPerSec, unit: 'events/s', params })
          ctx.record({ subject: name, metric: 'write time', value: o.setupMs, unit: 'ms', params })
          ctx.record({ subject: name, metric: 'written after deadline', value: o.lateWrites, unit: 'keys', params })
          if (o.bytesPerEvent !== undefined)
            ctx.record({ subject: name, metric: 'bytes retained per event', value: o.bytesPerEvent, unit: 'B', params })
        }
        const native = outcomes.native
        const reliable = outcomes.reliable
        if (native && reliable && reliable.p99 > 0) {
          ctx.record({
            subject: `${scenario.name} · native p99 / reliable p99`,
            metric: 'p99 ratio',
            value: native.p99 / reliable.p99,
            unit: 'x',
            params,
          })
        }
      }
      if (!ctx.signal.aborted && process.env.REDKIT_EXPIRY_SET !== '0') await setThroughput(ctx)
    } finally {
      await client.close()
    }
  },
})
