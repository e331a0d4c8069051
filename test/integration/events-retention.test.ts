import { describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { thrownCode } from '../support/expect.js'
import { standaloneUrl } from '../support/redis.js'
import { onEveryTopology } from '../support/topology.js'
import { eventually } from '../support/wait.js'

// Retention of the expiry stream (issue 10, item 13): what every group acknowledged is trimmed once
// it leaves the replay window, values go as soon as every group has acknowledged their event, and
// an event some group has not acknowledged stays (up to the retention).

const VALUE = 'x'.repeat(200)

/** The `name` of each row of an XINFO GROUPS / CONSUMERS reply (RESP2 arrays, RESP3 maps or objects). */
function names(reply: unknown): string[] {
  return (reply as unknown[]).map((row) => {
    if (row instanceof Map) return String(row.get('name'))
    if (Array.isArray(row)) return String(row[row.indexOf('name') + 1])
    return String((row as { name?: unknown }).name)
  })
}

function keysOf(rk: Redkit) {
  const exp = rk.keys.object('exp')
  return { stream: exp('events'), values: exp('evals') }
}

async function waitEvents(rk: Redkit, pattern: string, group: string, n: number, withValue = false) {
  const seen = new Map<string, unknown>()
  const sub = await rk.expirations.on(
    pattern,
    (e) => {
      seen.set(e.key, e.value)
    },
    { group, withValue },
  )
  return { seen, sub, all: () => eventually(() => seen.size >= n, 20_000, `${n} events for ${group}`) }
}

onEveryTopology(
  'expiry stream retention',
  (t) => {
    const len = (key: string) => t.command<number>(['XLEN', key], key)
    /** Events in the stream: an entry carries a sweep batch ('' = 'b1', then key = deadline pairs). */
    const eventsIn = async (key: string) => {
      const entries = await t.command<unknown[]>(['XRANGE', key, '-', '+'], key)
      return entries.reduce<number>((n, entry) => {
        const fields = (entry as [string, string[]])[1]
        return n + (fields[0] === '' ? (fields.length - 2) / 2 : 1)
      }, 0)
    }

    it('drops events every group acknowledged when the replay window is 0, values included', async () => {
      const rk = await createRedkit({ ...t.options(), prefix: `${t.prefix}a`, expirations: { replayMs: 0 } })
      try {
        const { stream, values } = keysOf(rk)
        const one = await waitEvents(rk, `${t.prefix}:gone:*`, 'one', 40, true)
        const two = await waitEvents(rk, `${t.prefix}:gone:*`, 'two', 40)
        await Promise.all(Array.from({ length: 40 }, (_, i) => rk.expirations.set(`${t.prefix}:gone:${i}`, VALUE, { ttlMs: 100 + i * 5 })))
        await Promise.all([one.all(), two.all()])
        expect(one.seen.get(`${t.prefix}:gone:3`)).toBe(VALUE)
        // The sweeper trims about once a second.
        await eventually(async () => (await len(stream)) === 0 && (await len(values)) === 0, 10_000, 'stream and values trimmed')
        await Promise.all([one.sub.close(), two.sub.close()])
      } finally {
        await rk.close()
      }
    })

    it('keeps acknowledged events for the replay window without their values: at most 64 bytes each', async () => {
      const rk = await createRedkit({ ...t.options(), prefix: `${t.prefix}b`, expirations: { replayMs: 600_000 } })
      try {
        const { stream, values } = keysOf(rk)
        const n = 2000
        const g = await waitEvents(rk, `${t.prefix}:kept:*`, 'kept', n, true)
        for (let i = 0; i < n; i += 200)
          await Promise.all(
            Array.from({ length: 200 }, (_, j) =>
              rk.expirations.set(`${t.prefix}:kept:${i + j}`, VALUE, { ttlMs: 200 + ((i + j) % 50) * 10 }),
            ),
          )
        await g.all()
        expect([...g.seen.values()].every((v) => v === VALUE)).toBe(true)
        await eventually(async () => (await len(values)) === 0, 10_000, 'values trimmed')
        expect(await eventsIn(stream)).toBe(n)
        const bytes = await t.command<number>(['MEMORY', 'USAGE', stream, 'SAMPLES', '0'], stream)
        expect(bytes / n).toBeLessThanOrEqual(64)
        // A group created later with from: 'retained' replays them, without values.
        const replay = new Map<string, unknown>()
        const sub = await rk.expirations.on(`${t.prefix}:kept:*`, (e) => void replay.set(e.key, e.value), {
          group: 'replay',
          from: 'retained',
          withValue: true,
        })
        await eventually(() => replay.size === n, 20_000, 'replayed')
        expect([...replay.values()].every((v) => v === undefined)).toBe(true)
        await Promise.all([g.sub.close(), sub.close()])
      } finally {
        await rk.close()
      }
    })

    it('keeps events and values a group has not acknowledged, and trims them once it has', async () => {
      const rk = await createRedkit({ ...t.options(), prefix: `${t.prefix}c`, expirations: { replayMs: 0 } })
      try {
        const { stream, values } = keysOf(rk)
        const online = await waitEvents(rk, `${t.prefix}:held:*`, 'online', 30)
        // The offline group exists (it subscribed once) but is not reading.
        const offline = await waitEvents(rk, `${t.prefix}:held:*`, 'offline', 0)
        await offline.sub.close()
        await Promise.all(Array.from({ length: 30 }, (_, i) => rk.expirations.set(`${t.prefix}:held:${i}`, VALUE, { ttlMs: 100 + i * 5 })))
        await online.all()
        // Several trims later, nothing the offline group needs is gone.
        await new Promise((r) => setTimeout(r, 2500))
        expect(await eventsIn(stream)).toBe(30)
        expect(await len(values)).toBe(await len(stream))
        const back = await waitEvents(rk, `${t.prefix}:held:*`, 'offline', 30, true)
        await back.all()
        expect([...back.seen.values()].every((v) => v === VALUE)).toBe(true)
        await eventually(async () => (await len(stream)) === 0 && (await len(values)) === 0, 10_000, 'trimmed after the last group')
        await Promise.all([online.sub.close(), back.sub.close()])
      } finally {
        await rk.close()
      }
    })

    it("a temporary group (a watcher's) is removed when it closes, and when its process was killed", async () => {
      const rk = await createRedkit({ ...t.options(), prefix: `${t.prefix}d`, expirations: { reclaimIdleMs: 1000 } })
      try {
        const { stream } = keysOf(rk)
        const registry = rk.keys.object('exp')('groups')
        const groups = async () => names(await t.command(['XINFO', 'GROUPS', stream], stream))
        const sub = await rk.expirations.on(`${t.prefix}:w:*`, () => {}, { group: 'watch-a', temporary: true })
        expect(await groups()).toContain('watch-a')
        await sub.close()
        expect(await groups()).not.toContain('watch-a')
        // What a killed watcher leaves: its group, marked temporary, and a consumer that stopped reading.
        await t.command(['XGROUP', 'CREATE', stream, 'watch-killed', '$', 'MKSTREAM'], stream)
        await t.command(['XREADGROUP', 'GROUP', 'watch-killed', 'c-dead', 'COUNT', '1', 'STREAMS', stream, '>'], stream)
        await t.command(['HSET', registry, 'watch-killed', 't'], registry)
        const live = await rk.expirations.on(`${t.prefix}:w:*`, () => {}, { group: 'kept' })
        await rk.expirations.set(`${t.prefix}:w:1`, 1, { ttlMs: 100 })
        await eventually(async () => !(await groups()).includes('watch-killed'), 10_000, 'the stale temporary group removed')
        // A group that is not temporary stays, however long it is idle.
        expect(await groups()).toContain('kept')
        await live.close()
      } finally {
        await rk.close()
      }
    })

    it('the consumer a killed process left in a group is removed once idle, and its events taken over', async () => {
      const rk = await createRedkit({ ...t.options(), prefix: `${t.prefix}e`, expirations: { reclaimIdleMs: 1000 } })
      try {
        const { stream } = keysOf(rk)
        const seen = new Set<string>()
        const sub = await rk.expirations.on(`${t.prefix}:dc:*`, (e) => void seen.add(e.key), { group: 'dc' })
        // A consumer that read an event and died: it holds one, and another that holds nothing.
        await t.command(['XADD', stream, '*', 'k', `${t.prefix}:dc:orphan`, 'd', String(Date.now())], stream)
        await t.command(['XREADGROUP', 'GROUP', 'dc', 'c-dead', 'COUNT', '1', 'STREAMS', stream, '>'], stream)
        await t.command(['XGROUP', 'CREATECONSUMER', stream, 'dc', 'c-empty'], stream)
        const consumers = async () => names(await t.command(['XINFO', 'CONSUMERS', stream, 'dc'], stream))
        await eventually(() => seen.has(`${t.prefix}:dc:orphan`), 15_000, "the dead consumer's event taken over")
        await eventually(
          async () => {
            const names = await consumers()
            return !names.includes('c-dead') && !names.includes('c-empty')
          },
          15_000,
          'dead consumers removed',
        )
        await sub.close()
      } finally {
        await rk.close()
      }
    })
  },
  { only: ['standalone', 'cluster'] },
)

describe('expiry retention options', () => {
  it('rejects a retention of 0 (no forever) and a replay window longer than the retention', async () => {
    for (const expirations of [{ retentionMs: 0 }, { retentionMs: 1000, replayMs: 2000 }, { replayMs: -1 }]) {
      const rk = await createRedkit({ url: standaloneUrl(), expirations })
      expect(thrownCode(() => rk.expirations)).toBe('E_INVALID_ARGUMENT')
      await rk.close()
    }
  })
})
