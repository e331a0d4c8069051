import { createCluster } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit, isRedkitError, type Redkit, type RedkitOptions } from '../../src/index.js'
import { RedkitSessionStore } from '../../src/session/index.js'
import { clusterArgs, formCluster } from '../support/cluster.js'
import { closeAll, type RawClient, rawClient } from '../support/redis.js'
import { sleep } from '../support/wait.js'

// Issue 13's planted-data suite: every kind of key redkit writes is overwritten with garbage, with
// a value of the wrong type, and with hostile numbers in place (same fields and members), then
// every operation runs again. Each must answer with a typed error or recover, never hang Redis (a
// script loop would make every client wait with BUSY), never write outside redkit's own keys, and
// never let two holders into a lock. The servers (a standalone one, and a three-master cluster,
// where a module's keys spread over nodes) are this file's own, so every key on them is accounted for.
const PREFIX = 'planted'
const STEP_MS = 4000

/** Two instances: a lock's exclusion is between processes. */
interface Pair {
  rk: Redkit
  other: Redkit
}

type Op = [name: string, run: (pair: Pair) => Promise<unknown>]

/** A broken promise that no typed error may excuse: reported as RAW. */
class Broken extends Error {}

const cache = (rk: Redkit) => rk.cache<number>('users', { ttlMs: 60_000 })
const presence = (rk: Redkit) => rk.presence('devices', { ttlMs: 60_000 })
const bloom = (rk: Redkit) => rk.bloom('ids', { expectedItems: 1000, falsePositiveRate: 0.01 })
const sessions = (rk: Redkit) => rk.sessions({ name: 'web' })
const sso = (rk: Redkit) => rk.sso({ app: 'shop' })
const shop = (rk: Redkit) => rk.inventory('shop', { lapseMs: 60_000 })
const stores = new WeakMap<Redkit, RedkitSessionStore>()
const store = (rk: Redkit) => {
  let s = stores.get(rk)
  if (!s) {
    s = new RedkitSessionStore({ redkit: rk, name: 'express', userIdOf: (data) => data.userId as string | undefined })
    s.on('error', () => {})
    stores.set(rk, s)
  }
  return s
}
const SID = 'sid-planted-1'

/** Tokens of sessions made on the clean server, so the planted runs read, touch and rotate them. */
const made: { session?: string; sso?: string } = {}

/** Holds a lock kind `take` from both instances at once: a second holder is a broken lock. */
async function exclusive(take: (rk: Redkit) => { tryAcquire(): Promise<boolean>; release(): Promise<boolean> }, pair: Pair) {
  const a = take(pair.rk)
  const b = take(pair.other)
  if (!(await a.tryAcquire())) return
  try {
    if (await b.tryAcquire()) {
      await b.release()
      throw new Broken('a second holder got the lock')
    }
  } finally {
    await a.release()
  }
}

const OPS: Op[] = [
  ['expirations.set', ({ rk }) => rk.expirations.set('exp:k1', { v: 1 }, { ttlMs: 60_000 })],
  ['expirations.expire', ({ rk }) => rk.expirations.expire('exp:k1', 60_000)],
  ['expirations.delete', ({ rk }) => rk.expirations.delete('exp:k1')],
  ['presence.beat', ({ rk }) => presence(rk).beat('d1', { model: 'x' })],
  ['presence.online', ({ rk }) => presence(rk).online()],
  ['presence.isOnline', ({ rk }) => presence(rk).isOnline('d1')],
  ['presence.reapNow', ({ rk }) => presence(rk).reapNow()],
  ['cache.set', ({ rk }) => cache(rk).set('u1', 1, { tags: ['t1'] })],
  ['cache.getOrLoad', ({ rk }) => rk.cache<number>('users', { ttlMs: 60_000, stampede: 'distributed' }).getOrLoad('u2', async () => 2)],
  ['cache.get', ({ rk }) => cache(rk).get('u1')],
  ['cache.delete', ({ rk }) => cache(rk).delete('u2')],
  ['cache.invalidateTags', ({ rk }) => cache(rk).invalidateTags(['t1'])],
  ['cache.set kept', ({ rk }) => cache(rk).set('u3', 3, { tags: ['t2'] })],
  ['cache near', ({ rk }) => rk.cache<number>('near', { ttlMs: 60_000, near: { maxEntries: 10 } }).getOrLoad('n1', async () => 1)],
  ['cache write-behind', ({ rk }) => rk.cache<number>('behind', { ttlMs: 60_000, write: 'behind', writer: () => {} }).set('b1', 1)],
  [
    'liveDataset.ready+publishUpdate',
    async ({ rk }) => {
      const dataset = rk.liveDataset('catalog', { load: async () => ({ a: 1 }) })
      try {
        await dataset.ready()
        await dataset.publishUpdate(Date.now())
      } finally {
        await dataset.close()
      }
    },
  ],
  ['queue.add', ({ rk }) => rk.queue('orders').add({ n: 1 }, { jobId: 'o1' })],
  ['queue.add delayed', ({ rk }) => rk.queue('orders').add({ n: 2 }, { delayMs: 60_000, priority: 3 })],
  ['queue.counts', ({ rk }) => rk.queue('orders').counts()],
  ['queue.jobs', ({ rk }) => rk.queue('orders').jobs('waiting')],
  ['queue.getJob', ({ rk }) => rk.queue('orders').getJob('o1')],
  [
    'queue.log+getLogs',
    async ({ rk }) =>
      rk
        .queue('orders')
        .log('o1', 'line')
        .then(() => rk.queue('orders').getLogs('o1')),
  ],
  ['queue.retryDead', ({ rk }) => rk.queue('orders').retryDead()],
  [
    'queue.pause+resume',
    async ({ rk }) =>
      rk
        .queue('orders')
        .pause()
        .then(() => rk.queue('orders').resume()),
  ],
  ['queue.clean', ({ rk }) => rk.queue('orders').clean({ state: 'completed' })],
  ['scheduler.repeat', ({ rk }) => rk.scheduler.repeat({ queue: 'orders', id: 'tick', data: 1, everyMs: 60_000 })],
  ['scheduler.list', ({ rk }) => rk.scheduler.list('orders')],
  ['counter.incr', ({ rk }) => rk.counter('visits').incr()],
  ['counter.value', ({ rk }) => rk.counter('visits').value()],
  ['eventCounter.incr', ({ rk }) => rk.eventCounter('stock').incr(1)],
  ['eventCounter.apply', ({ rk }) => rk.eventCounter('stock').apply()],
  ['lock exclusion', (pair) => exclusive((rk) => rk.lock('order-1', { ttlMs: 5000 }), pair)],
  [
    'lock.acquire contended',
    async ({ rk, other }) => {
      // A waiter that gives up leaves its place in the queue and the waiters hash (their own TTL).
      const holder = rk.lock('order-2', { ttlMs: 5000 })
      if (!(await holder.tryAcquire())) return
      try {
        await other.lock('order-2', { ttlMs: 5000 }).acquire({ timeoutMs: 150 })
        throw new Broken('a waiter got a lock that was held')
      } catch (error) {
        if (!isRedkitError(error, 'E_LOCK_TIMEOUT')) throw error
      } finally {
        await holder.release()
      }
    },
  ],
  ['reentrantLock exclusion', (pair) => exclusive((rk) => rk.reentrantLock('order-3', { ttlMs: 5000 }), pair)],
  [
    'semaphore exclusion',
    async ({ rk, other }) => {
      const take = (r: Redkit) => r.semaphore('pool', { permits: 2, ttlMs: 5000 })
      const held = [take(rk), take(other)]
      const got = await Promise.all(held.map((s) => s.tryAcquire()))
      try {
        if (got.every(Boolean)) {
          const third = take(rk)
          if (await third.tryAcquire()) {
            await third.release()
            throw new Broken('a third permit of two was given')
          }
        }
      } finally {
        await Promise.all(held.map((s, i) => (got[i] ? s.release() : undefined)))
      }
    },
  ],
  ['readWriteLock writer exclusion', (pair) => exclusive((rk) => rk.readWriteLock('doc').writer(), pair)],
  [
    'readWriteLock reader excludes writer',
    async ({ rk, other }) => {
      const reader = rk.readWriteLock('doc').reader()
      if (!(await reader.tryAcquire())) return
      try {
        const writer = other.readWriteLock('doc').writer()
        if (await writer.tryAcquire()) {
          await writer.release()
          throw new Broken('a writer got a lock a reader held')
        }
      } finally {
        await reader.release()
      }
    },
  ],
  ['inventory.setStock', ({ rk }) => shop(rk).setStock('mug', 10)],
  ['inventory.addStock', ({ rk }) => shop(rk).addStock('mug', 1)],
  ['inventory.available', ({ rk }) => shop(rk).available('mug')],
  [
    'inventory.reserve+confirm+cancel',
    async ({ rk }) => {
      await shop(rk).reserve('mug', 1, 'ann', { id: 'r1' })
      await shop(rk).confirm('mug', 'r1')
      await shop(rk).reserve('mug', 1, 'bob', { id: 'r2' })
      await shop(rk).cancel('mug', 'r2')
      // Left reserved, so its record and lapse marker exist when the data is planted.
      await shop(rk).reserve('mug', 1, 'cy', { id: 'r3' })
    },
  ],
  [
    'sessions.create',
    async ({ rk }) => {
      made.session ??= (await sessions(rk).create('user-1', { a: 1 })).token
    },
  ],
  ['sessions.get', ({ rk }) => sessions(rk).get(made.session ?? 'none')],
  ['sessions.touch', ({ rk }) => sessions(rk).touch(made.session ?? 'none')],
  ['sessions.update', ({ rk }) => sessions(rk).update(made.session ?? 'none', { a: 2 })],
  ['sessions.rotate', async ({ rk }) => sessions(rk).rotate((await sessions(rk).create('user-2', { b: 1 })).token)],
  ['sessions.listForUser', ({ rk }) => sessions(rk).listForUser('user-1')],
  ['sessions.destroyAllForUser', ({ rk }) => sessions(rk).destroyAllForUser('user-2')],
  [
    'sso.login',
    async ({ rk }) => {
      made.sso ??= (await sso(rk).login('user-1', { s: 1 })).app.token
    },
  ],
  ['sso.get', ({ rk }) => sso(rk).get(made.sso ?? 'none')],
  ['sso.view', ({ rk }) => sso(rk).view('user-1')],
  [
    'sso.logoutEverywhere',
    async ({ rk }) =>
      sso(rk)
        .login('user-3', {})
        .then(() => sso(rk).logoutEverywhere('user-3')),
  ],
  ['sessionStore.set', ({ rk }) => store(rk).set(SID, { cookie: { maxAge: 60_000 }, userId: 'user-1' })],
  ['sessionStore.get', ({ rk }) => store(rk).get(SID)],
  ['sessionStore.touch', ({ rk }) => store(rk).touch(SID, { cookie: { maxAge: 60_000 }, userId: 'user-1' })],
  ['sessionStore.length', ({ rk }) => store(rk).length()],
  ['bloom.add', ({ rk }) => bloom(rk).add('a')],
  ['bloom.mightContain', ({ rk }) => bloom(rk).mightContain('a')],
  ['rateLimiter.consume', ({ rk }) => rk.rateLimiter('api', { limit: 10, windowMs: 1000, algorithm: 'sliding-window' }).consume('k')],
  ['rateLimiter.consume gcra', ({ rk }) => rk.rateLimiter('api-tb', { limit: 10, windowMs: 1000, algorithm: 'token-bucket' }).consume('k')],
  [
    'rateLimiter.consume fixed',
    ({ rk }) => rk.rateLimiter('api-fw', { limit: 10, windowMs: 1000, algorithm: 'fixed-window' }).consume('k'),
  ],
  ['leaderboard.incr', ({ rk }) => rk.leaderboard('game').incr('p1', 5)],
  ['leaderboard.top', ({ rk }) => rk.leaderboard('game').top(10)],
  ['leaderboard.around', ({ rk }) => rk.leaderboard('game').around('p1', 2)],
  [
    'leaderboard.remove',
    ({ rk }) =>
      rk
        .leaderboard('game')
        .add('p2', 1)
        .then(() => rk.leaderboard('game').remove('p2')),
  ],
  ['timeseries.incr', ({ rk }) => rk.timeseries('views').incr(1)],
  ['timeseries.range', ({ rk }) => rk.timeseries('views').range({ from: Date.now() - 3_600_000, to: Date.now(), granularity: 'minute' })],
  ['unique.add', ({ rk }) => rk.unique('visitors').add('v1')],
  ['unique.count', ({ rk }) => rk.unique('visitors').count({ from: Date.now() - 3_600_000, to: Date.now() })],
  ['slidingWindow.incr', ({ rk }) => rk.slidingWindow('clicks', { windowMs: 60_000, precisionMs: 1000 }).incr()],
  ['slidingWindow.count', ({ rk }) => rk.slidingWindow('clicks', { windowMs: 60_000, precisionMs: 1000 }).count()],
]

/**
 * Every kind of key the key builders of src make (src/*\/keys.ts, cache-keys.ts, queue-keys.ts,
 * expiry-keys.ts and the modules that build their own), as a pattern over the keys the operations
 * above left on the clean server: a kind missing here is a kind the planted runs never reach.
 */
const KINDS: Array<[kind: string, pattern: RegExp]> = [
  ['expiry index', /^planted:\{(exp|~\d+)\}/],
  ['presence', /^planted:\{presence:devices\}/],
  ['cache entry', /^planted:cache:\{users:u3\}$/],
  ['cache entry version', /^planted:cache-ver:\{users:u3\}$/],
  ['cache tag', /^planted:\{users#tag:/],
  ['cache write-behind', /^planted:\{behind\}/],
  ['live dataset', /^planted:\{catalog\}/],
  ['queue', /^planted:\{orders\}:q:/],
  ['counter', /^planted:\{visits\}:counter$/],
  ['event counter', /^planted:\{stock\}/],
  ['lock holders', /^planted:\{lock:order-1\}:holders$/],
  ['lock holders held', /^planted:\{lock:held\}:holders$/],
  ['lock queue', /^planted:\{lock:held\}:queue$/],
  ['lock waiters', /^planted:\{lock:held\}:waiters$/],
  ['semaphore', /^planted:\{sem:pool\}:holders$/],
  ['read-write lock', /^planted:\{rw:doc\}:holders$/],
  ['inventory stock', /^planted:\{inv:shop:mug\}:stock$/],
  ['inventory reservation', /^planted:\{inv:shop:mug\}:res:r3$/],
  ['inventory lapse marker', /^planted:\{inv:shop:mug\}:lapse:r3:/],
  ['session', /^planted:\{session:web:id:[^}]+\}:s$/],
  ['session user index', /^planted:\{session:web:user:user-1\}:ids$/],
  ['sso apps', /^planted:\{sso:sso\}:apps$/],
  ['sso sessions', /^planted:\{session:(sso|shop)[^}]*\}/],
  ['session store', /^planted:\{session:express:id:sid-planted-1\}:s$/],
  ['bloom', /^planted:\{ids\}:/],
  ['rate limiter', /^planted:\{api[^}]*:k\}:rl-/],
  ['leaderboard', /^planted:\{game\}:/],
  ['timeseries', /^planted:\{views\}:/],
  ['unique', /^planted:\{visitors\}:/],
  ['sliding window', /^planted:\{clicks\}:/],
]

/** Numbers and texts a script may parse, loop over or allocate with: in every field, every member, every value. */
const HOSTILE = [
  'inf',
  'nan',
  '-inf',
  '1e309',
  '-1',
  '0',
  '9007199254740993',
  '99999999999999999999:99999999999999999999:0',
  '99999999999999:inf:1',
  '1:1:99999999999',
  '{"__proto__":{"x":1}}',
  '',
]
const SCORES = ['inf', '-inf', '1e300', '-1', '0']

type Command = (key: string, args: Array<string | Buffer>) => Promise<unknown>
/** DUMP's reply as bytes (RESTORE needs them exactly). */
const AS_BYTES = { typeMapping: { 36: Buffer } } as never

function pairs(reply: unknown): Array<[string, string]> {
  if (Array.isArray(reply)) {
    const out: Array<[string, string]> = []
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), String(reply[i + 1])])
    return out
  }
  return Object.entries((reply ?? {}) as Record<string, string>)
}

/** Keeps the key's type, fields and members, and replaces what they hold by hostile numbers, starting at `shift`. */
async function inPlace(command: Command, key: string, type: string, shift: number): Promise<void> {
  const pick = (i: number, list: readonly string[] = HOSTILE) => list[(i + shift) % list.length] as string
  if (type === 'hash') {
    const fields = pairs(await command(key, ['HGETALL', key]))
    // The lock's fence counter and a live-looking holder, whether the hash had them or not.
    const args = ['_f', pick(0), 'planted-holder', pick(1), ...fields.flatMap(([field], i) => [field, pick(i + 2)])]
    await command(key, ['HSET', key, ...args])
  } else if (type === 'zset') {
    const members = (await command(key, ['ZRANGE', key, '0', '99'])) as string[]
    const args = [...members.flatMap((member, i) => [pick(i, SCORES), member]), pick(0, SCORES), 'planted-member']
    await command(key, ['ZADD', key, ...args])
  } else if (type === 'list') {
    const length = Number(await command(key, ['LLEN', key]))
    for (let i = 0; i < Math.min(length, 100); i++) await command(key, ['LSET', key, String(i), pick(i)])
  } else if (type === 'set') {
    await command(key, ['SADD', key, ...HOSTILE.filter((v) => v !== '')])
  } else if (type === 'stream') {
    const last = (await command(key, ['XREVRANGE', key, '+', '-', 'COUNT', '1'])) as Array<[string, string[]]>
    const names = last[0]?.[1]?.filter((_, i) => i % 2 === 0) ?? ['d']
    const args = names.flatMap((name, i) => [name, pick(i)])
    await command(key, ['XADD', key, '*', ...args])
  } else {
    await command(key, ['SET', key, pick(0)])
  }
}

/** A value of the wrong kind for each Redis type, garbage of the right kind, and hostile numbers in place. */
type Plant = [name: string, plant: (command: Command, key: string, type: string) => Promise<unknown>]

const PLANTS: Plant[] = [
  ['garbage string', (command, key) => command(key, ['SET', key, '\u0000garbage{"x":'])],
  [
    'hash of garbage',
    async (command, key, type) => {
      await command(key, ['DEL', key])
      // Numbers a script might loop over or allocate with, in every field a script might read.
      const fields = { hashes: '0', bits: String(2 ** 32), n: '-1', d: 'x', o: '{', v: 'nan', s: '1e400', t: type, _f: 'inf' }
      return command(key, ['HSET', key, ...Object.entries(fields).flat()])
    },
  ],
  [
    'wrong type',
    async (command, key, type) => {
      await command(key, ['DEL', key])
      if (type === 'list') return command(key, ['SADD', key, 'x'])
      return command(key, ['RPUSH', key, 'x', '0', '-1'])
    },
  ],
  ...[0, 4, 8].map(
    (shift): Plant => [`hostile numbers in place (from ${HOSTILE[shift]})`, (command, key, type) => inPlace(command, key, type, shift)],
  ),
]

async function withBound<T>(run: () => Promise<T>): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      run(),
      new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), STEP_MS)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** One topology of this file's own servers: keyed commands, and every node for SCAN, PING and INFO. */
interface Site {
  options: RedkitOptions
  command: Command
  dump(key: string): Promise<Buffer | null>
  nodes: RawClient[]
  close(): Promise<void>
}

async function standaloneSite(): Promise<Site> {
  // lua-time-limit low so a runaway script would show up as BUSY quickly rather than after 5 s.
  const server = await startRedisServer({ args: ['--lua-time-limit', '500'] })
  const raw = await rawClient(server.url)
  const close = async () => {
    await closeAll(raw)
    await server.stop()
  }
  return {
    options: { url: server.url },
    command: (_key, args) => raw.sendCommand(args),
    dump: (key) => raw.sendCommand(['DUMP', key], AS_BYTES),
    nodes: [raw],
    close,
  }
}

async function clusterSite(): Promise<Site> {
  const servers: RedisProcess[] = await Promise.all(
    [0, 1, 2].map(() => startRedisServer({ args: [...clusterArgs(), '--lua-time-limit', '500'] })),
  )
  await formCluster(servers)
  const cluster = createCluster({ rootNodes: servers.map((server) => ({ url: server.url })) })
  cluster.on('error', () => {})
  await cluster.connect()
  const nodes = await Promise.all(servers.map((server) => rawClient(server.url)))
  return {
    options: { cluster: { rootNodes: servers.map((server) => server.url) } },
    command: (key, args) => cluster.sendCommand(key, false, args),
    dump: (key) => cluster.sendCommand(key, true, ['DUMP', key], AS_BYTES),
    nodes,
    close: async () => {
      await closeAll(cluster, ...nodes)
      await Promise.all(servers.map((server) => server.stop()))
    },
  }
}

async function allKeys(site: Site): Promise<string[]> {
  const keys: string[] = []
  for (const node of site.nodes) for await (const batch of node.scanIterator({ MATCH: '*', COUNT: 1000 })) keys.push(...batch)
  return keys.sort()
}

async function outcome(run: () => Promise<unknown>): Promise<string> {
  const result = await withBound(async () => {
    try {
      await run()
      return 'ok'
    } catch (error) {
      if (isRedkitError(error)) return `typed ${error.code}`
      return `RAW ${(error as Error)?.name}: ${(error as Error)?.message}`
    }
  })
  return result
}

describe.each([
  ['standalone', standaloneSite],
  ['cluster', clusterSite],
] as const)('planted data in every kind of redkit key on %s', (_topology, open) => {
  let site: Site
  const pair = {} as Pair
  let keys: string[] = []
  /** What the clean server held: each plant starts from it, so no plant meets another's leftovers. */
  const clean = new Map<string, Buffer>()
  /** A lock held through the planted runs (its watchdog renews it) with a waiter queued behind it. */
  let held: ReturnType<Redkit['lock']>
  let waiting: Promise<string>

  beforeAll(async () => {
    site = await open()
    pair.rk = await createRedkit({ ...site.options, prefix: PREFIX })
    pair.other = await createRedkit({ ...site.options, prefix: PREFIX })
    for (const rk of [pair.rk, pair.other]) rk.on('error', () => {})
    made.session = undefined
    made.sso = undefined
    const problems: string[] = []
    for (const [name, run] of OPS) {
      const result = await outcome(() => run(pair))
      if (result !== 'ok') problems.push(`${name} on a clean server: ${result}`)
    }
    expect(problems).toEqual([])
    held = pair.rk.lock('held', { ttlMs: 5000 })
    await held.acquire()
    waiting = outcome(() => pair.other.lock('held', { ttlMs: 5000 }).acquire({ timeoutMs: 200_000 }))
    const queue = `${PREFIX}:{lock:held}:queue`
    for (let i = 0; i < 100 && Number(await site.command(queue, ['EXISTS', queue])) === 0; i++) await sleep(20)
    keys = await allKeys(site)
    for (const key of keys) {
      const dump = await site.dump(key)
      if (dump) clean.set(key, dump)
    }
  }, 120_000)

  afterAll(async () => {
    await pair.rk?.close().catch(() => {})
    await pair.other?.close().catch(() => {})
    await site?.close()
  })

  it('the operations leave every kind of redkit key to plant', () => {
    const missing = KINDS.filter(([, pattern]) => !keys.some((key) => pattern.test(key))).map(([kind]) => kind)
    expect(missing, keys.join('\n')).toEqual([])
  })

  it('every operation answers (result or typed error), Redis never hangs, nothing is written outside the prefix, no lock gets two holders', async () => {
    // Redkit's own probe key for native mode is allowed outside the prefix; nothing else is.
    const outside = (list: string[]) => list.filter((key) => !key.startsWith(`${PREFIX}:`) && !key.startsWith('__redkit:'))
    expect(outside(keys)).toEqual([])
    const problems: string[] = []
    for (const [plantName, plant] of PLANTS) {
      for (const [key, dump] of clean) await site.command(key, ['RESTORE', key, '0', dump, 'REPLACE'])
      for (const key of keys) {
        const type = String(await site.command(key, ['TYPE', key]))
        await plant(site.command, key, type === 'none' ? 'string' : type)
      }
      for (const [name, run] of OPS) {
        const result = await outcome(() => run(pair))
        if (process.env.PLANT_DEBUG) console.log(plantName, name, result)
        if (result === 'hung' || result.startsWith('RAW')) problems.push(`${plantName}: ${name}: ${result.slice(0, 160)}`)
        // A script stuck in a loop makes PING answer BUSY: check every node after every operation.
        for (const node of site.nodes) {
          const ping = await withBound(() => node.ping().catch((error: unknown) => String(error)))
          if (ping !== 'PONG') problems.push(`${plantName}: after ${name} Redis answered PING with ${String(ping)}`)
        }
      }
      for (const key of outside(await allKeys(site))) problems.push(`${plantName}: a key outside the prefix was written: ${key}`)
      for (const node of site.nodes) {
        const memory = Number(/used_memory:(\d+)/.exec(await node.info('memory'))?.[1])
        if (memory > 200 * 1024 * 1024) problems.push(`${plantName}: Redis memory grew to ${memory} bytes`)
      }
    }
    // The waiter that was queued on the planted lock: granted once the hold ends, or a typed error.
    await held.release().catch(() => {})
    const waited = await withBound(() => waiting)
    if (waited === 'hung' || waited.startsWith('RAW')) problems.push(`the waiter queued before the plants: ${waited}`)
    expect(problems).toEqual([])
  }, 240_000)
})
