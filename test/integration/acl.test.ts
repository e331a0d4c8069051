import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { aclRules } from '../../src/core/acl.js'
import { createRedkit } from '../../src/index.js'
import { RedkitSessionStore, type StoredSessionData } from '../../src/session/index.js'
import { contractSuite } from '../support/contract-suite.js'
import { errorCode } from '../support/expect.js'
import { closeAll, clusterUrls, rawClient, sentinelSetup, standaloneUrl, testPrefix } from '../support/redis.js'
import { onEveryTopology, type TopologyUnderTest } from '../support/topology.js'
import { eventually, sleep } from '../support/wait.js'

/**
 * Every module, as a Redis user that holds only `aclRules()` (the line docs/security.md prints):
 * the contract suite, plus the modules' other paths that need their own commands (near cache
 * tracking, presence, native expiry without CONFIG SET, pattern channels, write-behind, schedules,
 * reservations, the stats). A rule missing from the list fails here with E_PERMISSION naming it.
 */
const prefix = testPrefix()
const user = `acl-${prefix}`
const password = randomBytes(12).toString('hex')
const patternChannel = `${prefix}:{sensor.*}:ch`

const servers = () => [
  { url: standaloneUrl(), cluster: false },
  { url: sentinelSetup().masterUrl, cluster: false },
  ...clusterUrls().map((url) => ({ url, cluster: true })),
]

beforeAll(async () => {
  for (const { url, cluster } of servers()) {
    const admin = await rawClient(url)
    // Native mode without CONFIG SET relies on the operator having turned expired events on.
    const reply = (await admin.sendCommand(['CONFIG', 'GET', 'notify-keyspace-events'])) as unknown
    const flags = String((Array.isArray(reply) ? reply[1] : Object.values(reply as object)[0]) ?? '')
    const missing = ['E', 'x'].filter((f) => !flags.includes(f) && !(f === 'x' && flags.includes('A'))).join('')
    if (missing) await admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', flags + missing])
    await admin.sendCommand([
      'ACL',
      'SETUSER',
      user,
      'reset',
      'on',
      `>${password}`,
      ...aclRules({ prefix, cluster, patterns: [patternChannel] }),
    ])
    await closeAll(admin)
  }
})

afterAll(async () => {
  for (const { url } of servers()) {
    const admin = await rawClient(url)
    await admin.sendCommand(['ACL', 'DELUSER', user])
    await closeAll(admin)
  }
})

const options = { credentials: () => ({ username: user, password }) }

onEveryTopology('contract under the least-privilege ACL', contractSuite, { prefix, options })

onEveryTopology(
  'every module under the least-privilege ACL',
  (t: TopologyUnderTest) => {
    // Background work (retention trims, write-behind claims, sweepers, readers) reports what the
    // ACL refuses as error events, not to a caller: collect them all and check at the end.
    const background: string[] = []
    const collect = (where: string) => (error: { code?: string; message: string }) => {
      if (error.code === 'E_PERMISSION') background.push(`${where}: ${error.message.slice(0, 160)}`)
    }
    beforeAll(() => {
      t.rk.on('error', collect('rk'))
      t.rk.expirations.events.on('error', collect('expirations'))
    })

    it('really is that user: a command and a key outside the rules are refused with E_PERMISSION', async () => {
      expect(await errorCode(t.rk.connection.send(['FLUSHALL']))).toBe('E_PERMISSION')
      expect(await errorCode(t.rk.connection.send(['GET', 'not-ours'], { key: 'not-ours' }))).toBe('E_PERMISSION')
    })

    it('near cache: another instance’s write evicts the near copy (client tracking)', async () => {
      const other = await createRedkit({ ...t.options(), ...options, prefix })
      try {
        const near = t.rk.cache<number>('acl-near', { ttlMs: 60_000, near: { maxEntries: 100 } })
        const writer = other.cache<number>('acl-near', { ttlMs: 60_000 })
        await eventually(() => near.nearReady, 5000, 'near cache ready')
        await writer.set('k', 1)
        expect(await near.getOrLoad('k', () => 0)).toBe(1)
        await writer.set('k', 2)
        await eventually(async () => (await near.get('k')) === 2, 5000, 'near copy evicted')
      } finally {
        await other.close()
      }
    })

    it('presence: a device that stops beating goes offline', async () => {
      const devices = t.rk.presence('acl-devices', { ttlMs: 300 })
      const offline: string[] = []
      const sub = await devices.on('offline', (e) => void offline.push(e.id))
      await devices.beat('d1')
      await eventually(() => offline.includes('d1'), 10_000, 'd1 offline')
      await sub.close()
    })

    it('native expiry mode without CONFIG SET: the probe finds Ex on, and expiries arrive', async () => {
      const heard: string[] = []
      const sub = await t.rk.expirations.on(`${prefix}:acl-native:*`, (e) => void heard.push(e.key), { mode: 'native' })
      const key = `${prefix}:acl-native:1`
      await t.rk.connection.send(['SET', key, 'v', 'PX', '100'], { key })
      await eventually(() => heard.includes(key), 10_000, 'native expiry heard')
      await sub.close()
    })

    it('pattern channels, once their pattern is listed', async () => {
      const all = t.rk.channel<number>('sensor.*', { pattern: true })
      expect(all.redisName).toBe(patternChannel)
      const heard: number[] = []
      const sub = await all.subscribe((n) => void heard.push(n))
      // Pattern subscriptions are not sharded: publish on a non-sharded channel.
      await t.rk.channel<number>('sensor.a', { sharded: false }).publish(7)
      await eventually(() => heard.includes(7), 5000, 'pattern message')
      await sub.close()
    })

    it('write-behind drains to the writer; schedules, delayed jobs and reservations run', async () => {
      const written = new Map<string, string>()
      const cache = t.rk.cache<string>('acl-behind', {
        write: 'behind',
        writer: (key, value) => void written.set(key, value),
        // Short, so its claim of writes held by dead consumers (XAUTOCLAIM) runs during the test.
        writeBehind: { claimIdleMs: 200 },
      })
      cache.on('error', collect('write-behind'))
      await cache.set('k', 'v')
      await eventually(() => written.get('k') === 'v', 5000, 'write-behind drained')
      await sleep(500)
      await cache.close()

      const ran: string[] = []
      const worker = t.rk.worker<string>('acl-jobs', async (job) => void ran.push(job.data))
      await t.rk.queue<string>('acl-jobs').add('later', { delayMs: 100 })
      await t.rk.scheduler.repeat({ queue: 'acl-jobs', id: 'tick', data: 'tick', everyMs: 200 })
      await eventually(() => ran.includes('later') && ran.includes('tick'), 10_000, 'delayed and repeated jobs ran')
      expect(await t.rk.scheduler.cancel('acl-jobs', 'tick')).toBe(true)
      await worker.close()

      const shop = t.rk.inventory('acl-shop', { lapseMs: 200 })
      await shop.setStock('mug', 2)
      expect(await shop.reserve('mug', 2, 'ann')).toBeDefined()
      expect(await shop.available('mug')).toBe(0)
      await eventually(async () => (await shop.available('mug')) === 2, 10_000, 'lapsed stock back')
    })

    it('semaphore, read-write and reentrant locks', async () => {
      const sem = t.rk.semaphore('acl-sem', { permits: 2 })
      await sem.using(async () => {
        expect(await t.rk.semaphore('acl-sem', { permits: 2 }).tryAcquire()).toBe(true)
      })
      const rw = t.rk.readWriteLock('acl-rw')
      await rw.read(async () => {
        await rw.read(async () => sleep(1))
      })
      await rw.write(async () => sleep(1))
      const re = t.rk.reentrantLock('acl-re')
      await re.using(async () => re.using(async () => sleep(1)))
    })

    it('the stats: token bucket, sliding window, bloom filter, leaderboard around a member', async () => {
      const bucket = t.rk.rateLimiter('acl-gcra', { limit: 2, windowMs: 60_000, algorithm: 'token-bucket', inMemoryBlock: false })
      expect((await bucket.consume('u')).allowed).toBe(true)
      const window = t.rk.slidingWindow('acl-window', { windowMs: 60_000, precisionMs: 1000 })
      await window.incr(3)
      expect(await window.count()).toBe(3)
      const bloom = t.rk.bloom('acl-bloom', { expectedItems: 1000, falsePositiveRate: 0.01 })
      await bloom.add('x')
      expect(await bloom.mightContain('x')).toBe(true)
      const board = t.rk.leaderboard('acl-board')
      for (const [m, s] of [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ] as const)
        await board.add(m, s)
      expect((await board.around('b', 1)).map((e) => e.member)).toEqual(['c', 'b', 'a'])
      // A count over more than 100 buckets merges them in steps (PFMERGE into a temporary key).
      const hourly = t.rk.unique('acl-hourly', { granularity: 'hour' })
      const start = Date.parse('2030-06-01T00:00:00Z')
      await hourly.add('u', start)
      await hourly.add('v', start + 150 * 3_600_000)
      expect(await hourly.count({ from: start, to: start + 150 * 3_600_000 })).toBe(2)
    })

    it('single sign-on: login, join, the combined view, logout everywhere', async () => {
      const mail = t.rk.sso<{ n: number }>({ app: 'mail', realm: 'acl' })
      const docs = t.rk.sso<{ n: number }>({ app: 'docs', realm: 'acl' })
      const login = await mail.login('ada', { n: 1 })
      expect(await docs.join(login.global.token as string, { n: 2 })).toBeDefined()
      const view = await docs.view('ada')
      expect(Object.keys(view.apps).sort()).toEqual(['docs', 'mail'])
      expect(await mail.logoutEverywhere('ada')).toBeGreaterThan(0)
      expect(await mail.get(login.app.token)).toBeUndefined()
    })

    it('the framework session store: save, read, touch, list, revoke, logout (tombstone)', async () => {
      for (const extra of [{}, { userIdOf: (s: StoredSessionData) => s.userId as string | undefined, absoluteTimeoutMs: 60_000 }]) {
        const store = new RedkitSessionStore({ redkit: t.rk, name: `acl${Object.keys(extra).length}`, ...extra })
        const cookie = { maxAge: 60_000 }
        await store.set('sid1', { cookie, userId: 'ada' })
        await store.touch('sid1', { cookie, userId: 'ada' })
        expect(await store.get('sid1')).toMatchObject({ userId: 'ada' })
        if ('userIdOf' in extra) {
          expect(await store.listForUser('ada')).toHaveLength(1)
          expect(await store.destroyAllForUser('ada')).toBe(1)
        } else await store.destroy('sid1')
        await store.touch('sid1', { cookie, userId: 'ada' })
        await store.set('sid1', { cookie, userId: 'ada' })
        expect(await store.get('sid1')).toBeNull()
        expect(await store.ids()).toEqual([])
      }
    })

    it('durable writes and Redlock replicas may WAIT', async () => {
      expect(await t.rk.connection.send(['WAIT', '0', '10'], { key: `${prefix}:{w}` })).toBe(0)
    })

    it('doctor runs: it needs INFO and CONFIG GET only', async () => {
      const report = await t.rk.doctor()
      expect(report.findings.length).toBeGreaterThan(0)
      expect(JSON.stringify(report)).not.toMatch(/NOPERM|permission/i)
    })

    it('no background component was refused anything (retention trims, claims, sweeps, readers)', async () => {
      // Retention trims run every second: give them a few passes.
      await sleep(1500)
      expect(background).toEqual([])
    })
  },
  { prefix, options },
)
