/**
 * The service's cached user route under autocannon, against its ceiling: a bare Fastify route that
 * answers a constant user of the same size without touching Redis or the database.
 * - `GET /api/users/:id` of the real service (cache-aside over PGlite, near cache on, every guard),
 *   ids cycling over the 200 seeded users, all warm;
 * - the same route with the near cache off, so every hit is one Redis GET;
 * - the bare route (one Fastify instance, no hooks, a static object).
 * Interleaved slices (A,B,C, C,B,A, ...), autocannon in a worker thread of the same process, 50
 * connections, no pipelining.
 */
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp, openDatabase, Scenarios, userKey } from '../packages/server/src/index.js'
import { createRedkit } from '../src/index.js'
import { type Figures, type InterleaveSubject, interleave, recordInterleave } from './lib/interleave.js'
import { defineBenchmark } from './lib/types.js'

const CONNECTIONS = 50

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

function cannon(url: string, paths: string[], durationS: number, signal: AbortSignal): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: durationS,
        // In a worker thread of its own, so the load does not compete with the servers' event loop.
        workers: 1,
        // Each connection walks the list in order, then starts again.
        requests: paths.map((path) => ({ method: 'GET', path })),
      },
      (error, result) => {
        signal.removeEventListener('abort', stop)
        if (error) return reject(error)
        if (result.non2xx > 0 || result.errors > 0) return reject(new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`))
        resolve({ 'req/s': result.requests.average, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max })
      },
    )
    const stop = () => instance.stop()
    signal.addEventListener('abort', stop, { once: true })
  })
}

export default defineBenchmark({
  name: 'service',
  description: 'autocannon: the cached user route (near cache on / off) vs a bare Fastify route (the ceiling)',
  async run(ctx) {
    const sliceS = ctx.quick ? 2 : 5
    const rounds = ctx.quick ? 2 : 4
    const db = await openDatabase()
    const rk = await createRedkit({ url: ctx.redisUrl, prefix: 'bench-service' })
    const scenarios = new Scenarios(rk, db)
    await scenarios.start()
    await scenarios.databaseReady()
    const app = await buildApp({ rk, scenarios, defaultMetrics: false })
    const noNear = rk.cache('users-no-near', { ttlMs: 600_000, negativeTtlMs: 5000 })
    app.get<{ Params: { id: string } }>('/bench/users-no-near/:id', async (request) => {
      const id = Number(request.params.id)
      return noNear.getOrLoad(userKey(id), () => db.getUser(id))
    })
    const bare = Fastify({ logger: false })
    const sample = await db.getUser(1)
    bare.get('/users/:id', async () => sample)
    try {
      const serviceUrl = await listen(app)
      const bareUrl = await listen(bare)
      const ids = Array.from({ length: 200 }, (_, i) => i + 1)
      // Warm both caches: every seeded user once.
      for (let id = 1; id <= 200; id++) {
        await fetch(`${serviceUrl}/api/users/${id}`)
        await fetch(`${serviceUrl}/bench/users-no-near/${id}`)
      }
      ctx.log(`warm: 200 users cached; slices of ${sliceS} s, ${rounds} rounds, ${CONNECTIONS} connections`)
      const subjects: InterleaveSubject[] = [
        {
          name: 'bare Fastify route (ceiling)',
          params: { route: 'GET /users/:id (static object)' },
          slice: () =>
            cannon(
              bareUrl,
              ids.map((id) => `/users/${id}`),
              sliceS,
              ctx.signal,
            ),
        },
        {
          name: 'GET /api/users/:id (redkit cache, near cache on)',
          params: { route: 'GET /api/users/:id' },
          slice: () =>
            cannon(
              serviceUrl,
              ids.map((id) => `/api/users/${id}`),
              sliceS,
              ctx.signal,
            ),
        },
        {
          name: 'GET /api/users/:id (redkit cache, near cache off)',
          params: { route: 'GET /bench/users-no-near/:id' },
          slice: () =>
            cannon(
              serviceUrl,
              ids.map((id) => `/bench/users-no-near/${id}`),
              sliceS,
              ctx.signal,
            ),
        },
      ]
      const result = await interleave(subjects, {
        rounds,
        ratioOf: ['req/s', 'p99'],
        signal: ctx.signal,
        onSlice: ({ round, subject, figures }) =>
          ctx.log(`  round ${round} ${subject}: ${Math.round(figures['req/s'] ?? 0)} req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms`),
      })
      recordInterleave(ctx, result, {
        units: { 'req/s': 'req/s', p50: 'ms', p99: 'ms', max: 'ms' },
        params: { connections: CONNECTIONS, sliceS, rounds, databaseReads: db.reads },
      })
    } finally {
      await bare.close()
      await app.close()
      await noNear.close()
      await rk.close()
      await db.close()
    }
  },
})
