/**
 * redkit sessions against connect-redis 9 (the express-session store most apps use), on the same
 * throwaway Redis and the same node-redis 6 client type, 100 concurrent callers over 1,000 live
 * sessions (~250-byte express-session objects), in interleaved slices with a raw GET as ceiling:
 * - store `get` (every request) and `set` (every request that changes its session) and `touch`;
 * - redkit's SessionManager `get`, which also checks the fingerprint, records the access and slides
 *   the idle timeout in the same round trip, against what express-session asks of connect-redis on
 *   a request that does not change its session: `get`, then `touch`.
 * Each slice also reports the CPU each operation cost this process (`cpu µs/op`) and the server
 * (`server µs/op`, from INFO cpu): on a shared machine they move much less than throughput does.
 */

import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { createRedkit } from '../src/index.js'
import { RedkitSessionStore } from '../src/session/index.js'
import { closedLoopSubject, interleave, logSlice, recordInterleave, recordPairRatio, serverCpuOf, sliceTiming } from './lib/interleave.js'
import { defineBenchmark } from './lib/types.js'

const CONCURRENCY = 100
const SESSIONS = 1000

const sessionOf = (i: number) => ({
  cookie: {
    originalMaxAge: 86_400_000,
    expires: new Date(Date.now() + 86_400_000).toISOString(),
    httpOnly: true,
    path: '/',
    secure: false,
  },
  userId: `user-${i}`,
  views: i,
  roles: ['reader', 'commenter'],
  flash: { info: [] as string[] },
  csrfSecret: 'sX3lGm0y2Vn9qk8bZr7yJ3aC',
})

export default defineBenchmark({
  name: 'session',
  description: 'redkit session store and manager vs connect-redis: get, set and touch throughput',
  async run(ctx) {
    const { sliceMs, warmupMs, rounds } = sliceTiming(ctx)
    const url = ctx.redisUrl
    const params = { concurrency: CONCURRENCY, sessions: SESSIONS, sessionBytes: JSON.stringify(sessionOf(999)).length, sliceMs, rounds }
    const sids = Array.from({ length: SESSIONS }, (_, i) => `sid${String(i).padStart(28, '0')}`)

    const raw = createClient({ url, commandOptions: { timeout: 0 } })
    raw.on('error', () => {})
    // connect-redis gets the client its README shows, without node-redis's per-command timer (the same as redkit's).
    const client = createClient({ url, commandOptions: { timeout: 0 } })
    client.on('error', () => {})
    const rk = await createRedkit({ url, prefix: 'bench' })
    try {
      await Promise.all([raw.connect(), client.connect()])
      const connectRedis = new RedisStore({ client, prefix: 'cr:' })
      const redkitStore = new RedkitSessionStore({ redkit: rk, name: 'web' })
      const manager = rk.sessions<{ views: number; roles: string[] }>({ name: 'app', idleTimeoutMs: 1_800_000 })
      await Promise.all(sids.map((sid, i) => raw.set(`raw:${sid}`, JSON.stringify(sessionOf(i)))))
      await Promise.all(sids.map((sid, i) => connectRedis.set(sid, sessionOf(i) as never)))
      await Promise.all(sids.map((sid, i) => redkitStore.set(sid, sessionOf(i))))
      const tokens = await Promise.all(
        sids.map((_, i) => manager.create(`user-${i}`, { views: i, roles: ['reader'] }).then((s) => s.token)),
      )
      ctx.log(`${SESSIONS} sessions per subject; slices of ${sliceMs} ms, ${rounds} rounds, concurrency ${CONCURRENCY}`)

      const serverCpuUs = serverCpuOf((section) => raw.info(section))
      const subject = (name: string, op: (seq: number) => Promise<unknown>) =>
        closedLoopSubject(name, op, { concurrency: CONCURRENCY, sliceMs, warmupMs, signal: ctx.signal, serverCpuUs })
      const sid = (seq: number) => sids[seq % SESSIONS] as string
      const RAW = 'node-redis GET (raw ceiling)'
      const CR_GET = 'connect-redis get'
      const RK_GET = 'redkit store get'
      const CR_SET = 'connect-redis set'
      const RK_SET = 'redkit store set'
      const CR_TOUCH = 'connect-redis touch'
      const RK_TOUCH = 'redkit store touch'
      const RK_MANAGER = 'redkit sessions.get (touch + idle slide)'
      // What express-session asks of its store on a request that does not change the session.
      const CR_REQUEST = 'connect-redis get + touch (one request)'
      const subjects = [
        subject(RAW, (seq) => raw.get(`raw:${sid(seq)}`)),
        subject(CR_GET, (seq) => connectRedis.get(sid(seq))),
        subject(RK_GET, (seq) => redkitStore.get(sid(seq))),
        subject(CR_SET, (seq) => connectRedis.set(sid(seq), sessionOf(seq % SESSIONS) as never)),
        subject(RK_SET, (seq) => redkitStore.set(sid(seq), sessionOf(seq % SESSIONS))),
        subject(CR_TOUCH, (seq) => connectRedis.touch(sid(seq), sessionOf(seq % SESSIONS) as never)),
        subject(RK_TOUCH, (seq) => redkitStore.touch(sid(seq), sessionOf(seq % SESSIONS))),
        subject(CR_REQUEST, async (seq) => {
          const session = await connectRedis.get(sid(seq))
          await connectRedis.touch(sid(seq), session)
        }),
        subject(RK_MANAGER, (seq) => manager.get(tokens[seq % SESSIONS] as string)),
      ]
      const result = await interleave(subjects, {
        rounds,
        baseline: RAW,
        ratioOf: ['ops/s'],
        signal: ctx.signal,
        onSlice: logSlice(ctx),
      })
      recordInterleave(ctx, result, { units: { 'ops/s': 'ops/s', p50: 'ms', p99: 'ms', 'cpu µs/op': 'µs', 'server µs/op': 'µs' }, params })
      const pair = (ours: string, theirs: string) =>
        recordPairRatio(ctx, result, ours, [theirs], theirs, params, ['cpu µs/op', 'server µs/op'])
      pair(RK_GET, CR_GET)
      pair(RK_SET, CR_SET)
      pair(RK_TOUCH, CR_TOUCH)
      pair(RK_MANAGER, CR_REQUEST)
    } finally {
      await Promise.allSettled([raw.destroy(), client.destroy(), rk.close()])
    }
  },
})
