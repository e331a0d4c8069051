import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aclSetUserLine, createRedkit, isRedkitError, type Redkit } from '../../src/index.js'
import { RedkitSessionStore } from '../../src/session/index.js'
import { closeAll, clusterUrls, type RawClient, rawClient, standaloneUrl, testPrefix } from '../support/redis.js'
import { type TopologyName, topologyOptions } from '../support/topology.js'

// Issue 13's acceptance: every public entry point, called with adversarial names, values, numbers
// and options, either works or fails with a typed RedkitError; it never hangs, never throws a raw
// TypeError/RangeError, and a rejected call changes nothing stored.

/** Values a hostile or careless caller passes where a name, a number, a value or options go. */
const hostile = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    undefined,
    Number.NaN,
    -1,
    0,
    -0,
    1.5,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 31,
    2 ** 53,
    1e14,
    '',
    '\uD800',
    'a{b}',
    'x'.repeat(2000),
    '100',
    'bogus',
    [],
    [1, 2],
    {},
    { ttlMs: Number.NaN },
    { ttlMs: -1, limit: 'x', permits: 0, attempts: 1.5, backoff: { delayMs: Number.NaN } },
    { from: 'bogus', mode: 'weird', group: '{x}' },
    Symbol('s'),
    10n,
    new Date(Number.NaN),
    () => 1,
    // What qs, querystring and many JSON parsers make of request input: String() of it throws.
    Object.create(null),
    Object.assign(Object.create(null), { ttlMs: 5, priority: 1, except: 'x', count: 2, id: 'i' }),
  ),
  fc.anything({ maxDepth: 2, withNullPrototype: true }),
)

interface Target {
  name: string
  call(rk: Redkit, a: unknown, b: unknown, c: unknown): unknown
}

// The benign second object each factory target uses, so the hostile argument is the one under test.
const T: Target[] = [
  // core
  { name: 'createRedkit(options)', call: async (_rk, a) => (await createRedkit(a as never)).close() },
  // events
  { name: 'expirations.set', call: (rk, a, b, c) => rk.expirations.set(a as never, b, c as never) },
  { name: 'expirations.set(key, value, options)', call: (rk, _a, b, c) => rk.expirations.set('k', b, c as never) },
  { name: 'expirations.expire', call: (rk, a, b, c) => rk.expirations.expire(a as never, b as never, c as never) },
  { name: 'expirations.track', call: (rk, a, b) => rk.expirations.track(a as never, b as never) },
  { name: 'expirations.delete', call: (rk, a) => rk.expirations.delete(a as never) },
  { name: 'expirations.persist', call: (rk, a) => rk.expirations.persist(a as never) },
  {
    name: 'expirations.on(pattern, handler, options)',
    call: async (rk, a, _b, c) => (await rk.expirations.on(a as never, () => {}, c as never)).close(),
  },
  { name: 'presence(name, options)', call: (rk, a, b) => rk.presence(a as never, b as never).close() },
  { name: 'presence.beat', call: (rk, a, b) => rk.presence('p', { ttlMs: 60_000 }).beat(a as never, b) },
  { name: 'presence.isOnline', call: (rk, a) => rk.presence('p', { ttlMs: 60_000 }).isOnline(a as never) },
  { name: 'presence.reapNow', call: (rk, a) => rk.presence('p', { ttlMs: 60_000 }).reapNow(a as never) },
  { name: 'presence.deadLetters', call: (rk, a) => rk.presence('p', { ttlMs: 60_000 }).deadLetters(a as never) },
  // cache
  { name: 'cache(name, options)', call: (rk, a, b) => rk.cache(a as never, b as never).close() },
  { name: 'cache.get', call: (rk, a) => rk.cache('c').get(a as never) },
  { name: 'cache.set', call: (rk, a, b, c) => rk.cache('c').set(a as never, b, c as never) },
  { name: 'cache.getOrLoad', call: (rk, a, b, c) => rk.cache('c').getOrLoad(a as never, async () => b, c as never) },
  { name: 'cache.getOrLoad(key, loader)', call: (rk, _a, b) => rk.cache('c').getOrLoad('k2', b as never) },
  { name: 'cache.delete', call: (rk, a) => rk.cache('c').delete(a as never) },
  { name: 'cache.invalidateTags', call: (rk, a) => rk.cache('c').invalidateTags(a as never) },
  // messaging
  { name: 'queue(name, options)', call: (rk, a, b) => rk.queue(a as never, b as never).counts() },
  { name: 'queue.add', call: (rk, a, b) => rk.queue('q').add(a, b as never) },
  { name: 'queue.addBulk', call: (rk, a) => rk.queue('q').addBulk(a as never) },
  { name: 'queue.getJob', call: (rk, a) => rk.queue('q').getJob(a as never) },
  { name: 'queue.jobIds', call: (rk, a, b) => rk.queue('q').jobIds(a as never, b as never) },
  { name: 'queue.jobs', call: (rk, a, b) => rk.queue('q').jobs(a as never, b as never) },
  { name: 'queue.retryDead', call: (rk, a) => rk.queue('q').retryDead(a as never) },
  { name: 'queue.clean', call: (rk, a) => rk.queue('q').clean(a as never) },
  { name: 'queue.remove', call: (rk, a) => rk.queue('q').remove(a as never) },
  { name: 'worker(name, handler, options)', call: (rk, a, _b, c) => rk.worker(a as never, async () => {}, c as never).close() },
  { name: 'channel(name).publish', call: (rk, a, b) => rk.channel(a as never).publish(b) },
  { name: 'counter.incr', call: (rk, a) => rk.counter('n').incr(a as never) },
  { name: 'counter.decr', call: (rk, a) => rk.counter('n').decr(a as never) },
  { name: 'counter.reset', call: (rk, a) => rk.counter('n').reset(a as never) },
  { name: 'counter(name)', call: (rk, a) => rk.counter(a as never).value() },
  { name: 'eventCounter.apply', call: (rk, a) => rk.eventCounter('ec').apply(a as never) },
  {
    name: 'eventCounter.consume',
    call: async (rk, a) => {
      const consumer = rk.eventCounter('ec').consume(a as never)
      await (consumer as unknown as { close(): Promise<void> }).close()
    },
  },
  { name: 'scheduler.schedule', call: (rk, a) => rk.scheduler.schedule(a as never) },
  { name: 'scheduler.repeat', call: (rk, a) => rk.scheduler.repeat(a as never) },
  // locks: a fresh name per call, released when taken, so one call never waits for another's hold
  {
    name: 'lock(name, options).tryAcquire',
    call: async (rk, a, b) => {
      const lock = rk.lock(a as never, b as never)
      if (await lock.tryAcquire()) await lock.release()
    },
  },
  {
    name: 'lock.acquire(options)',
    call: async (rk, _a, b) => {
      const lock = rk.lock(`l${++seq}`)
      await lock.acquire(b as never)
      await lock.release()
    },
  },
  {
    name: 'semaphore(name, options)',
    call: async (rk, a, b) => {
      const semaphore = rk.semaphore(a as never, b as never)
      if (await semaphore.tryAcquire()) await semaphore.release()
    },
  },
  // sessions
  { name: 'sessions(options)', call: (rk, a) => rk.sessions(a as never).listForUser('u') },
  { name: 'sessions.create', call: (rk, a, b, c) => rk.sessions({ name: 's' }).create(a as never, b, c as never) },
  { name: 'sessions.get', call: (rk, a, b) => rk.sessions({ name: 's' }).get(a as never, b as never) },
  { name: 'sessions.touch', call: (rk, a, b) => rk.sessions({ name: 's' }).touch(a as never, b as never) },
  { name: 'sessions.destroy', call: (rk, a) => rk.sessions({ name: 's' }).destroy(a as never) },
  { name: 'sessions.listForUser', call: (rk, a) => rk.sessions({ name: 's' }).listForUser(a as never) },
  { name: 'sessions.destroyAllForUser', call: (rk, a) => rk.sessions({ name: 's' }).destroyAllForUser(a as never) },
  // stats
  { name: 'bloom(name, options).add', call: (rk, a, b, c) => rk.bloom(a as never, b as never).add(c as never) },
  { name: 'rateLimiter(name, options).consume', call: (rk, a, b, c) => rk.rateLimiter(a as never, b as never).consume(c as never) },
  {
    name: 'rateLimiter.consume(key, cost)',
    call: (rk, a, b) => rk.rateLimiter('r', { limit: 10, windowMs: 1000, algorithm: 'fixed-window' }).consume(a as never, b as never),
  },
  { name: 'leaderboard(name, options).add', call: (rk, a, b, c) => rk.leaderboard(a as never, b as never).add('m', c as never) },
  { name: 'leaderboard.incr', call: (rk, a, b) => rk.leaderboard('b').incr(a as never, b as never) },
  { name: 'leaderboard.rank', call: (rk, a) => rk.leaderboard('b').rank(a as never) },
  { name: 'leaderboard.top', call: (rk, a) => rk.leaderboard('b').top(a as never) },
  { name: 'aclSetUserLine(user, options)', call: (_rk, a, b) => aclSetUserLine(typeof a === 'string' ? a : 'u', b as never) },
  { name: 'cache(name, { bloom })', call: (rk, a) => rk.cache('cb', { bloom: a as never }).close() },
  {
    name: 'queue.add(data, { priority, attempts })',
    call: (rk, a, b) => rk.queue('q').add(1, { priority: a as never, attempts: b as never }),
  },
  { name: 'queue.changePriority', call: (rk, a) => rk.queue('q').changePriority('j', a as never) },
  { name: 'eventCounter.incr', call: (rk, a) => rk.eventCounter('ec').incr(a as never) },
  {
    name: 'inventory.reserve(product, qty, user, options)',
    call: (rk, a, b) => rk.inventory('inv').reserve('p', a as never, 'u', b as never),
  },
  { name: 'sessions.destroyAllForUser(user, options)', call: (rk, a) => rk.sessions({ name: 's' }).destroyAllForUser('u', a as never) },
  {
    name: 'sessionStore.destroyAllForUser(user, options)',
    call: (rk, a) => new RedkitSessionStore({ redkit: rk, name: 'st' }).destroyAllForUser('u', a as never),
  },
  {
    name: 'sessionStore.idPages(options)',
    call: async (rk, a) => {
      for await (const _ of new RedkitSessionStore({ redkit: rk, name: 'st' }).idPages(a as never)) break
    },
  },
  { name: 'timeseries(name, options).incr', call: (rk, a, b, c) => rk.timeseries(a as never, b as never).incr(c as never) },
]

const HANG_MS = 3000
let seq = 0
// Reproducible in CI; FC_SEED=<n> (and FC_RUNS) explore other inputs locally.
const SEED = Number(process.env.FC_SEED ?? 20261201)
const RUNS = Number(process.env.FC_RUNS ?? 40)

/** Every key under the prefix on every node with its serialized value, to compare before and after a call. */
async function snapshot(nodes: RawClient[], prefix: string): Promise<string> {
  const parts: string[] = []
  for (const raw of nodes) {
    const keys: string[] = []
    for await (const batch of raw.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) keys.push(...batch)
    const dumps = await Promise.all(
      keys.map(async (key) => {
        const dump = await raw.sendCommand(['DUMP', key], { typeMapping: { 36: Buffer } } as never)
        return `${key}=${Buffer.isBuffer(dump) ? dump.toString('base64') : String(dump)}`
      }),
    )
    parts.push(...dumps)
  }
  return parts.sort().join('\n')
}

async function outcome(run: () => unknown): Promise<'ok' | 'rejected' | string> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      (async () => run())(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hung for ${HANG_MS} ms`)), HANG_MS)
      }),
    ])
    return 'ok'
  } catch (error) {
    if (isRedkitError(error)) return 'rejected'
    return `${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`.slice(0, 200)
  } finally {
    clearTimeout(timer)
  }
}

// Cluster too: the checks must hold where keys spread over nodes and commands are routed by slot
// (the same runs cost about 3 s more there).
const SITES: Array<[TopologyName, () => string[]]> = [
  ['standalone', () => [standaloneUrl()]],
  ['cluster', clusterUrls],
]

describe.each(SITES)('every public API under adversarial input (property-based) on %s', (topology, urls) => {
  let nodes: RawClient[] = []

  beforeAll(async () => {
    nodes = await Promise.all(urls().map((url) => rawClient(url)))
  })
  afterAll(() => closeAll(...nodes))

  // Each target gets its own instance and prefix: background work of another target (a sweeper, a
  // worker) cannot be mistaken for a write by a rejected call.
  it.each(T.map((t) => [t.name, t] as const))(
    '%s: only typed errors, no hang, nothing changed when rejected',
    async (_name, target) => {
      const prefix = testPrefix()
      const rk = await createRedkit({ ...topologyOptions(topology), prefix })
      rk.on('error', () => {})
      const failures: string[] = []
      try {
        await fc.assert(
          fc.asyncProperty(hostile, hostile, hostile, async (a, b, c) => {
            const before = await snapshot(nodes, prefix)
            const result = await outcome(() => target.call(rk, a, b, c))
            if (result === 'ok') return
            if (result !== 'rejected') {
              failures.push(`${result} for ${fc.stringify([a, b, c]).slice(0, 200)}`)
              return
            }
            const after = await snapshot(nodes, prefix)
            if (after !== before) failures.push(`a rejected call changed what is stored, for ${fc.stringify([a, b, c]).slice(0, 200)}`)
          }),
          { numRuns: RUNS, seed: SEED },
        )
      } finally {
        await rk.close()
      }
      expect(failures.slice(0, 5)).toEqual([])
    },
    120_000,
  )
})
