import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Presence, PresenceEvent, Subscription } from '../../src/events/index.js'
import { createRedkit, type Redkit } from '../../src/index.js'
import { errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'
import { sleep } from '../support/wait.js'

/** Collects transitions from any number of watchers and waits for conditions on them. */
function collector() {
  const events: PresenceEvent[] = []
  const waiters = new Set<() => void>()
  return {
    events,
    handler: (event: PresenceEvent) => {
      events.push(event)
      for (const check of waiters) check()
    },
    of(type: 'online' | 'offline', id?: string) {
      return events.filter((e) => e.type === type && (id === undefined || e.id === id))
    },
    waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
      if (condition()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!condition()) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for ${what}; got ${events.map((e) => `${e.type}:${e.id}`).join(', ')}`))
        }, timeoutMs)
        waiters.add(check)
      })
    },
  }
}

/** Subscribes one collector to both transitions of a presence. */
async function watch(p: Presence, c: ReturnType<typeof collector>, group?: string): Promise<Subscription[]> {
  const options = group === undefined ? {} : { group }
  return [await p.on('online', c.handler, options), await p.on('offline', c.handler, options)]
}

describe.each(TOPOLOGIES)('presence on %s', (_topology, options) => {
  let prefix: string
  const instances: Redkit[] = []
  let n = 0

  /** A redkit instance standing for one process; closed after the suite. */
  async function process(): Promise<Redkit> {
    const rk = await createRedkit({ ...options(), prefix })
    instances.push(rk)
    return rk
  }
  const name = () => `devices-${++n}`

  beforeAll(() => {
    prefix = testPrefix()
  })
  afterAll(() => Promise.all(instances.map((rk) => rk.close())))

  it('tracks who is online with their meta, against the server clock', async () => {
    const rk = await process()
    const p = rk.presence<{ fw: number }>(name(), { ttlMs: 2000 })
    expect(await p.beat('a', { fw: 1 })).toBe(true)
    expect(await p.beat('a')).toBe(false)
    expect(await p.beat('b')).toBe(true)
    expect(await p.isOnline('a')).toBe(true)
    expect(await p.isOnline('nobody')).toBe(false)
    expect(await p.count()).toBe(2)
    const members = await p.online()
    expect(members.map((m) => m.id).sort()).toEqual(['a', 'b'])
    const a = members.find((m) => m.id === 'a')
    expect(a?.meta).toEqual({ fw: 1 })
    expect(a?.since).toBeLessThanOrEqual(a?.lastBeat ?? 0)
    expect(a?.deadline).toBe((a?.lastBeat ?? 0) + 2000)
    expect(members.find((m) => m.id === 'b')?.meta).toBeUndefined()
    expect(await p.beat('a', { fw: 2 })).toBe(false)
    expect((await p.online()).find((m) => m.id === 'a')?.meta).toEqual({ fw: 2 })
    const short = rk.presence(name(), { ttlMs: 150 })
    await short.beat('x')
    await sleep(250)
    expect(await short.isOnline('x')).toBe(false)
    expect(await short.count()).toBe(0)
    expect(await short.online()).toEqual([])
  })

  it('keeps members and deadlines bounded when no process watches: beats record lapsed members offline', async () => {
    const rk = await process()
    const p = rk.presence(name(), { ttlMs: 100 })
    for (let i = 0; i < 30; i++) await p.beat(`gone-${i}`)
    await new Promise((r) => setTimeout(r, 1400))
    for (let i = 0; i < 20; i++) await p.beat('alive')
    const key = rk.keys.object(`presence:${p.name}`)
    const members = key('members')
    const deadlines = key('deadlines')
    expect(await rk.connection.send(['HLEN', members], { key: members })).toBe(1)
    expect(await rk.connection.send(['ZCARD', deadlines], { key: deadlines })).toBe(1)
    await p.close()
  })

  it('reports one offline per lapse and none while heartbeats keep arriving', async () => {
    const watcher = await process()
    const device = await process()
    const presence = name()
    const c = collector()
    await watch(watcher.presence(presence, { ttlMs: 600 }), c)
    const p = device.presence<{ room: string }>(presence, { ttlMs: 600 })

    await p.beat('once', { room: 'hall' })
    // 'steady' beats every ttl/3 for six ttls; 'flappy' lapses twice.
    const steady = (async () => {
      for (let i = 0; i < 18; i++) {
        await p.beat('steady')
        await sleep(200)
      }
    })()
    await p.beat('flappy')
    await c.waitUntil(() => c.of('offline', 'flappy').length === 1, 'first flappy offline')
    expect(await p.beat('flappy')).toBe(true)
    await c.waitUntil(() => c.of('offline', 'once').length === 1, 'once offline')
    await steady
    expect(c.of('offline', 'steady')).toEqual([])
    await c.waitUntil(() => c.of('offline', 'steady').length === 1 && c.of('offline', 'flappy').length === 2, 'the last offlines')
    await sleep(800)

    expect(c.of('online', 'steady')).toHaveLength(1)
    expect(c.of('offline', 'steady')).toHaveLength(1)
    expect(c.of('online', 'once')).toHaveLength(1)
    expect(c.of('offline', 'once')).toHaveLength(1)
    expect(c.of('online', 'flappy')).toHaveLength(2)
    expect(c.of('offline', 'flappy')).toHaveLength(2)
    expect(new Set(c.events.map((e) => e.eventId)).size).toBe(c.events.length)

    const off = c.of('offline', 'once')[0]
    const on = c.of('online', 'once')[0]
    if (off?.type !== 'offline' || on?.type !== 'online') throw new Error('unreachable')
    expect(on.meta).toEqual({ room: 'hall' })
    expect(off.meta).toEqual({ room: 'hall' })
    expect(off.lastBeat).toBe(on.at)
    expect(off.at).toBe(off.lastBeat + 600)
    expect(off.since).toBe(on.since)
    expect(off.presence).toBe(presence)
    expect(await p.count()).toBe(0)
  })

  it('brings a member online once when two processes beat it at the same time', async () => {
    const watcher = await process()
    const [a, b] = [await process(), await process()]
    const presence = name()
    const c = collector()
    await watch(watcher.presence(presence, { ttlMs: 5000 }), c)
    const pa = a.presence(presence, { ttlMs: 5000 })
    const pb = b.presence(presence, { ttlMs: 5000 })
    const ids = Array.from({ length: 10 }, (_, i) => `sensor-${i}`)
    const results = await Promise.all(ids.flatMap((id) => Array.from({ length: 10 }, (_, i) => (i % 2 ? pa : pb).beat(id))))
    for (let i = 0; i < ids.length; i++) expect(results.slice(i * 10, i * 10 + 10).filter(Boolean)).toHaveLength(1)
    await c.waitUntil(() => c.of('online').length >= 10, '10 onlines')
    await sleep(500)
    expect(
      c
        .of('online')
        .map((e) => e.id)
        .sort(),
    ).toEqual([...ids].sort())
  })

  it('hands each transition to exactly one of three watchers of a group, and all of them to another group', async () => {
    const presence = name()
    const shared = collector()
    const perWatcher: Array<ReturnType<typeof collector>> = []
    for (let i = 0; i < 3; i++) {
      const own = collector()
      perWatcher.push(own)
      const handler = (e: PresenceEvent) => {
        own.handler(e)
        shared.handler(e)
      }
      const p = (await process()).presence(presence, { ttlMs: 400 })
      await p.on('online', handler)
      await p.on('offline', handler)
    }
    const dashboard = collector()
    await watch((await process()).presence(presence, { ttlMs: 400 }), dashboard, 'dashboard')
    const device = (await process()).presence(presence, { ttlMs: 400 })
    const ids = Array.from({ length: 30 }, (_, i) => `d${i}`)
    await Promise.all(ids.map((id) => device.beat(id)))

    await shared.waitUntil(() => shared.of('offline').length >= 30, '30 offlines in the group')
    await dashboard.waitUntil(() => dashboard.of('offline').length >= 30, '30 offlines on the dashboard')
    await sleep(800)
    for (const c of [shared, dashboard]) {
      expect(
        c
          .of('online')
          .map((e) => e.id)
          .sort(),
      ).toEqual([...ids].sort())
      expect(
        c
          .of('offline')
          .map((e) => e.id)
          .sort(),
      ).toEqual([...ids].sort())
    }
    expect(perWatcher.reduce((sum, c) => sum + c.events.length, 0)).toBe(60)
    expect(new Set(shared.events.map((e) => e.eventId))).toEqual(new Set(dashboard.events.map((e) => e.eventId)))
  })

  it('gives a watcher that was away the offline that happened meanwhile', async () => {
    const presence = name()
    const device = (await process()).presence(presence, { ttlMs: 300 })
    const first = await process()
    const before = collector()
    await watch(first.presence(presence, { ttlMs: 300 }), before, 'ops')
    await device.beat('dev-1')
    await before.waitUntil(() => before.of('online', 'dev-1').length === 1, 'online')
    await first.close()

    // The device lapses while nobody watches.
    await sleep(900)
    expect(await device.isOnline('dev-1')).toBe(false)

    const after = collector()
    const started = Date.now()
    await watch((await process()).presence(presence, { ttlMs: 300 }), after, 'ops')
    await after.waitUntil(() => after.of('offline', 'dev-1').length === 1, 'offline after coming back', 4000)
    // Through the expiry event waiting in the stream, not the periodic reaper (every 5 s).
    expect(Date.now() - started).toBeLessThan(3000)
    await sleep(500)
    expect(after.events.map((e) => `${e.type}:${e.id}`)).toEqual(['offline:dev-1'])
    expect(before.of('offline')).toEqual([])
  })

  it('records the offline of a member whose expiry event was lost', async () => {
    const rk = await process()
    const p = rk.presence(name(), { ttlMs: 200, reapIntervalMs: 200 })
    const c = collector()
    await watch(p, c)
    await p.beat('ghost')
    // Cancel the heartbeat's expiry event behind the presence's back: only the reaper can notice now.
    expect(await rk.expirations.persist(p.heartbeatKey('ghost'))).toBe(true)
    await c.waitUntil(() => c.of('offline', 'ghost').length === 1, 'reaped offline', 5000)
    await sleep(400)
    expect(c.of('offline', 'ghost')).toHaveLength(1)
    expect(await p.isOnline('ghost')).toBe(false)
  })

  it('records the lapse itself when a heartbeat arrives after the deadline before anyone recorded it', async () => {
    const rk = await process()
    const presence = name()
    const p = rk.presence(presence, { ttlMs: 150 })
    // Nobody watches, so nothing records the lapse until the next beat does.
    expect(await p.beat('late')).toBe(true)
    await sleep(300)
    expect(await p.isOnline('late')).toBe(false)
    expect(await p.beat('late', { n: 2 })).toBe(true)
    // A group that replays the stream from the start sees both lapses, each once, in order.
    const c = collector()
    const retained = { group: 'from-start', from: 'retained' } as const
    await p.on('online', c.handler, retained)
    await p.on('offline', c.handler, retained)
    await c.waitUntil(() => c.of('offline').length >= 2 && c.of('online').length >= 2, 'two onlines and two offlines')
    await sleep(500)
    const seen = [...c.events].sort((a, b) => (a.eventId < b.eventId ? -1 : 1))
    expect(seen.map((e) => `${e.type}:${e.id}`)).toEqual(['online:late', 'offline:late', 'online:late', 'offline:late'])
    expect(seen[1]?.meta).toBeUndefined()
    expect(seen[2]?.meta).toEqual({ n: 2 })
  })

  it('does not lose a backlog of one type while a process registers its handlers one after the other', async () => {
    const presence = name()
    const device = (await process()).presence(presence, { ttlMs: 150 })
    const first = await process()
    const c1 = collector()
    await watch(first.presence(presence, { ttlMs: 150 }), c1, 'dash')
    await Promise.all(['a', 'b', 'c'].map((id) => device.beat(id)))
    await c1.waitUntil(() => c1.of('online').length === 3, 'three onlines')
    await first.close()
    // The default group's watcher records the offlines while 'dash' is away.
    const recorder = collector()
    await watch((await process()).presence(presence, { ttlMs: 150 }), recorder)
    await recorder.waitUntil(() => recorder.of('offline').length === 3, 'three offlines recorded')
    // 'dash' comes back: 'online' first (nothing to read for it), then 'offline' later.
    const back = (await process()).presence(presence, { ttlMs: 150 })
    const c2 = collector()
    await back.on('online', c2.handler, { group: 'dash' })
    await sleep(300)
    await back.on('offline', c2.handler, { group: 'dash' })
    await c2.waitUntil(() => c2.of('offline').length === 3, 'the three offlines of the backlog')
    expect(c2.of('online')).toEqual([])
  })

  it('retries a failing handler and dead-letters the transition after the last attempt', async () => {
    const rk = await process()
    const p = rk.presence(name(), { ttlMs: 60_000 })
    const attempts: number[] = []
    const dead = new Promise((resolve) => p.events.once('dead', resolve))
    await p.on(
      'online',
      (e) => {
        attempts.push(e.attempt)
        throw new Error('dashboard down')
      },
      { attempts: 3, backoff: { delayMs: 20 } },
    )
    await p.beat('flaky')
    const letter = (await dead) as { id: string; type: string; error: string; attempts: number }
    expect(letter).toMatchObject({ id: 'flaky', type: 'online', error: 'dashboard down', attempts: 3 })
    expect(attempts).toEqual([1, 2, 3])
    expect((await p.deadLetters()).map((l) => `${l.type}:${l.id}:${l.error}`)).toEqual(['online:flaky:dashboard down'])
  })

  it('leaves a transition whose handler fails while closing to another watcher of the group', async () => {
    const presence = name()
    const quitter = (await process()).presence(presence, { ttlMs: 60_000 })
    let failures = 0
    let failed: () => void = () => {}
    const failing = new Promise<void>((resolve) => {
      failed = resolve
    })
    await quitter.on(
      'online',
      () => {
        failures++
        failed()
        throw new Error('database unreachable')
      },
      { attempts: 50, backoff: { delayMs: 100, maxDelayMs: 100 }, reclaimIdleMs: 500 },
    )
    await (await process()).presence(presence, { ttlMs: 60_000 }).beat('m1')
    await failing
    const closing = Date.now()
    await quitter.close()
    expect(Date.now() - closing).toBeLessThan(1500)

    const c = collector()
    const heir = (await process()).presence(presence, { ttlMs: 60_000 })
    await heir.on('online', c.handler, { reclaimIdleMs: 500 })
    await c.waitUntil(() => c.of('online', 'm1').length === 1, 'the online taken over', 8000)
    expect(c.events[0]?.attempt).toBeGreaterThan(1)
    expect(failures).toBeGreaterThanOrEqual(1)
    expect(await heir.deadLetters()).toEqual([])
  })

  it('rejects bad input with typed errors and leaves stored data alone', async () => {
    const rk = await process()
    for (const ttlMs of [0, -1, Number.NaN, 2 ** 53, 1.5, Number.POSITIVE_INFINITY, undefined]) {
      expect(await errorCode(() => rk.presence('p', { ttlMs: ttlMs as number })), String(ttlMs)).toBe('E_INVALID_ARGUMENT')
    }
    expect(await errorCode(() => rk.presence('p', undefined as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(() => rk.presence('', { ttlMs: 1000 }))).toBe('E_INVALID_KEY')
    expect(await errorCode(() => rk.presence('a{b}', { ttlMs: 1000 }))).toBe('E_INVALID_KEY')
    expect(await errorCode(() => rk.presence('p', { ttlMs: 1000, group: 'g}' }))).toBe('E_INVALID_KEY')

    const p = rk.presence<unknown>(name(), { ttlMs: 60_000 })
    await p.beat('kept', { v: 1 })
    const before = await p.online()
    for (const id of ['', 'bad\nid', 5, null, 'x'.repeat(2000)]) {
      expect(await errorCode(() => p.beat(id as string)), String(id)).toBe('E_INVALID_KEY')
    }
    expect(await errorCode(() => p.isOnline(''))).toBe('E_INVALID_KEY')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const meta of [() => 1, { n: Number.NaN }, cyclic, new Map(), Symbol('s')]) {
      expect(await errorCode(() => p.beat('kept', meta)), String(meta)).toBe('E_ENCODE')
      expect(await errorCode(() => p.beat('new-one', meta))).toBe('E_ENCODE')
    }
    expect(await p.online()).toEqual(before)
    expect(await p.isOnline('new-one')).toBe(false)

    expect(await errorCode(() => p.on('bogus' as 'online', () => {}))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(() => p.on('online', 'nope' as never))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(() => p.on('online', () => {}, { group: 'a{b' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(() => p.on('online', () => {}, { attempts: 0 }))).toBe('E_INVALID_ARGUMENT')
    await p.close()
    expect(await errorCode(() => p.beat('kept'))).toBe('E_CLOSED')
  })
})
