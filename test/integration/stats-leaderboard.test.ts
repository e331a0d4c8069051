import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { countSends, errorCode, TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

describe.each(TOPOLOGIES)('leaderboard on %s', (_name, options) => {
  let rk: Redkit
  let prefix: string
  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ ...options(), prefix })
  })
  afterAll(async () => {
    await rk?.close()
  })

  it('add, incr, top, rank (1-based), around, page, remove, size', async () => {
    const lb = rk.leaderboard('game')
    for (const [m, s] of [
      ['ann', 50],
      ['ben', 80],
      ['cid', 20],
      ['dee', 65],
      ['eve', 10],
    ] as const)
      await lb.add(m, s)
    expect(await lb.incr('cid', 40)).toEqual({ score: 60, rank: 3 })
    expect((await lb.top(3)).map((e) => [e.member, e.score, e.rank])).toEqual([
      ['ben', 80, 1],
      ['dee', 65, 2],
      ['cid', 60, 3],
    ])
    expect(await lb.rank('ann')).toEqual({ member: 'ann', score: 50, rank: 4 })
    expect(await lb.rank('nobody')).toBeUndefined()
    expect((await lb.around('cid', 1)).map((e) => e.member)).toEqual(['dee', 'cid', 'ann'])
    expect((await lb.around('ben', 2)).map((e) => e.rank)).toEqual([1, 2, 3])
    expect(await lb.around('nobody', 2)).toEqual([])
    expect((await lb.page(1, 2)).map((e) => e.member)).toEqual(['cid', 'ann'])
    expect(await lb.size()).toBe(5)
    expect(await lb.remove('eve')).toBe(true)
    expect(await lb.remove('eve')).toBe(false)
    expect(await lb.size()).toBe(4)
    expect((await lb.incr('newcomer')).score).toBe(1)
  })

  it('ties rank whoever reached the score first higher, in both orders', async () => {
    const desc = rk.leaderboard('ties')
    await desc.add('late', 5)
    await desc.add('first', 10)
    await desc.add('second', 7)
    await desc.incr('second', 3) // reaches 10 after 'first'
    await desc.incr('late', 5) // reaches 10 last
    expect((await desc.top(3)).map((e) => e.member)).toEqual(['first', 'second', 'late'])
    const asc = rk.leaderboard('golf', { order: 'asc' })
    await asc.add('x', 72)
    await asc.add('y', 70)
    await asc.add('z', 72)
    expect((await asc.top(3)).map((e) => e.member)).toEqual(['y', 'x', 'z'])
    expect((await asc.rank('z'))?.rank).toBe(3)
  })

  it('maxSize keeps only the best', async () => {
    const lb = rk.leaderboard('capped', { maxSize: 3 })
    for (let i = 1; i <= 6; i++) await lb.add(`p${i}`, i * 10)
    expect(await lb.size()).toBe(3)
    expect((await lb.top(10)).map((e) => e.member)).toEqual(['p6', 'p5', 'p4'])
    expect(await lb.add('low', 1)).toEqual({ score: 1, rank: 0 })
    expect(await lb.rank('low')).toBeUndefined()
  })

  it('daily and weekly boards roll over by themselves in their time zone, past ones expire', async () => {
    // Dates ahead of the server's clock, so that the boards' expiry lies in the future.
    let now = Date.parse('2030-03-12T22:30:00Z') // 23:30 in Paris, Tuesday
    const clock = { now: () => now }
    const daily = rk.leaderboard('daily', { period: 'daily', timeZone: 'Europe/Paris', clock, keepPastMs: 3_600_000 })
    const weekly = rk.leaderboard('weekly', { period: 'weekly', timeZone: 'Europe/Paris', clock })
    await daily.add('ann', 5)
    await weekly.add('ann', 5)
    now = Date.parse('2030-03-12T23:10:00Z') // 00:10 on Wednesday in Paris: a new day, same week
    await daily.add('ben', 7)
    await weekly.add('ben', 7)
    expect((await daily.top(5)).map((e) => e.member)).toEqual(['ben'])
    expect((await daily.top(5, { at: Date.parse('2030-03-12T12:00:00Z') })).map((e) => e.member)).toEqual(['ann'])
    expect((await weekly.top(5)).map((e) => e.member)).toEqual(['ben', 'ann'])
    now = Date.parse('2030-03-17T23:30:00Z') // Monday 00:30 in Paris: a new week
    expect(await weekly.size()).toBe(0)
    const key = `${prefix}:{daily}:lb:d2030-03-12`
    // Tuesday's board expires an hour after Tuesday ends in Paris (2030-03-12T23:00Z).
    const expiresAt = await rk.connection.send<number>(['PEXPIRETIME', key], { key })
    expect(expiresAt).toBe(Date.parse('2030-03-13T00:00:00Z'))
  })

  // Review finding 8: where DST starts at local midnight the day began an hour early, on the previous date, and two days' boards merged.
  it('daily boards roll over at local midnight across DST: midnight skipped (Havana), 23- and 25-hour days (Berlin, New York), half-hour DST (Lord Howe)', async () => {
    let now = 0
    const clock = { now: () => now }
    const cases: Array<[zone: string, lastOfDay: string, firstOfNext: string, nextDate: string]> = [
      // 2027-03-14 00:00 CST does not exist in Havana: clocks go to 01:00 CDT (05:00Z).
      ['America/Havana', '2027-03-14T04:59:59.999Z', '2027-03-14T05:00:00Z', '2027-03-14'],
      // Berlin's 23-hour day (2027-03-28) ends at 22:00Z, its 25-hour day (2027-10-31) at 23:00Z.
      ['Europe/Berlin', '2027-03-28T21:59:59.999Z', '2027-03-28T22:00:00Z', '2027-03-29'],
      ['Europe/Berlin', '2027-10-31T22:59:59.999Z', '2027-10-31T23:00:00Z', '2027-11-01'],
      ['America/New_York', '2027-11-08T04:59:59.999Z', '2027-11-08T05:00:00Z', '2027-11-08'],
      // Lord Howe +11 ends 2027-04-04 02:00 (-> 01:30 +10:30): that day lasts 24.5 h and ends at 13:30Z.
      ['Australia/Lord_Howe', '2027-04-04T13:29:59.999Z', '2027-04-04T13:30:00Z', '2027-04-05'],
    ]
    for (const [zone, last, first, nextDate] of cases) {
      const name = `dst-${zone.replace(/[^a-z]/gi, '')}-${nextDate}`
      const board = rk.leaderboard(name, { period: 'daily', timeZone: zone, clock })
      now = Date.parse(last)
      await board.add('before', 1)
      now = Date.parse(first)
      await board.add('after', 1)
      expect(
        (await board.top(5)).map((e) => e.member),
        `${zone} ${nextDate}`,
      ).toEqual(['after'])
      expect(
        (await board.top(5, { at: Date.parse(last) })).map((e) => e.member),
        `${zone} ${nextDate}`,
      ).toEqual(['before'])
      const key = `${prefix}:{${name}}:lb:d${nextDate}`
      expect(await rk.connection.send(['ZCARD', key], { key }), `${zone}: the board is named by its local date`).toBe(1)
    }
  })

  it('100,000 concurrent incr sum exactly', { timeout: 60_000 }, async () => {
    const lb = rk.leaderboard('hammer')
    const members = 500
    const batch = 5000
    for (let start = 0; start < 100_000; start += batch)
      await Promise.all(Array.from({ length: batch }, (_, i) => lb.incr(`m${(start + i) % members}`, 1 + ((start + i) % 3))))
    const all = await lb.top(members)
    expect(all).toHaveLength(members)
    let expected = 0
    for (let i = 0; i < 100_000; i++) expected += 1 + (i % 3)
    expect(all.reduce((sum, e) => sum + e.score, 0)).toBe(expected)
    expect(all.map((e) => e.rank)).toEqual(Array.from({ length: members }, (_, i) => i + 1))
  })

  it('bad scores, members and options are RedkitErrors and change nothing', async () => {
    const lb = rk.leaderboard('strict')
    await lb.add('ann', 10)
    for (const score of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53, '3' as unknown as number])
      expect(await errorCode(lb.add('ann', score))).toBe('E_INVALID_ARGUMENT')
    for (const by of [Number.NaN, 0.5, Number.NEGATIVE_INFINITY]) expect(await errorCode(lb.incr('ann', by))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(lb.incr('ann', -11))).toBe('E_INVALID_ARGUMENT') // would go below 0, refused by the script
    expect(await errorCode(lb.incr('ann', Number.MAX_SAFE_INTEGER))).toBe('E_INVALID_ARGUMENT')
    for (const m of ['', 'x'.repeat(1025), '\uD800', 'a\u0000b', 7 as unknown as string])
      expect(await errorCode(lb.add(m, 1))).toBe('E_INVALID_KEY')
    expect(await lb.rank('ann')).toEqual({ member: 'ann', score: 10, rank: 1 })
    expect(await lb.size()).toBe(1)
    for (const bad of [{ maxSize: 0 }, { order: 'up' }, { period: 'hourly' }, { timeZone: 'Mars/Olympus' }, { keepPastMs: -1 }])
      expect(await errorCode(() => rk.leaderboard('x', bad as never))).toBe('E_INVALID_ARGUMENT')
    for (const name of ['', 'a:b', '{x}', 'n'.repeat(201)]) expect(await errorCode(() => rk.leaderboard(name))).toBe('E_INVALID_KEY')
    expect(await errorCode(lb.top(0))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(lb.top(Number.NaN))).toBe('E_INVALID_ARGUMENT')
  })

  // Review finding 7 (a): a refused write used to bump the tie-break sequence first (and leave it without a TTL).
  it('a write refused for planted data changes nothing, not even the tie-break sequence', async () => {
    let now = Date.parse('2030-04-02T12:00:00Z')
    const lb = rk.leaderboard('refused', { period: 'daily', clock: { now: () => now } })
    await lb.add('ann', 1)
    const base = `${prefix}:{refused}:lb:d2030-04-02`
    const seqBefore = await rk.connection.send(['GET', `${base}:seq`], { key: base })
    const ttlBefore = await rk.connection.send(['PEXPIRETIME', `${base}:seq`], { key: base })
    await rk.connection.send(['SET', `${base}:index`, 'not a hash'], { key: base })
    for (let i = 0; i < 3; i++) expect(await errorCode(lb.incr(`new-${i}`))).toBe('E_DECODE')
    expect(await rk.connection.send(['GET', `${base}:seq`], { key: base })).toBe(seqBefore)
    expect(await rk.connection.send(['PEXPIRETIME', `${base}:seq`], { key: base })).toBe(ttlBefore)
    expect(await rk.connection.send(['ZCARD', base], { key: base })).toBe(1)
    // The board of another day, holding a string: refused before any key of it is written.
    now = Date.parse('2030-04-03T12:00:00Z')
    const other = `${prefix}:{refused}:lb:d2030-04-03`
    await rk.connection.send(['SET', other, 'x'], { key: other })
    expect(await errorCode(lb.incr('ann'))).toBe('E_DECODE')
    expect(await rk.connection.send(['EXISTS', `${other}:seq`, `${other}:index`], { key: other })).toBe(0)
    expect(await rk.connection.send(['GET', other], { key: other })).toBe('x')
  })

  it('a planted index entry or score is refused with E_DECODE', async () => {
    const lb = rk.leaderboard('planted')
    await lb.add('ann', 10)
    const index = `${prefix}:{planted}:lb:all:index`
    await rk.connection.send(['HSET', index, 'ann', 'not-a-stored-member'], { key: index })
    expect(await errorCode(lb.incr('ann'))).toBe('E_DECODE')
    expect(await errorCode(lb.rank('ann'))).toBe('E_DECODE')
  })

  it('writes of one tick share one script call; each caller gets its own score and rank, in call order, and only a bad one fails', async () => {
    const lb = rk.leaderboard('batched')
    const { result: results, sends: calls } = await countSends(rk, () =>
      Promise.allSettled([
        lb.incr('ann', 5),
        lb.incr('ben', 5),
        lb.incr('ann', 1),
        lb.incr('cid', -1), // would go below 0: refused alone
        lb.add('ben', 9),
        lb.incr('ann', 0),
      ]),
    )
    expect(calls).toBe(1)
    const values = results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code: string }).code))
    expect(values).toEqual([
      { score: 5, rank: 1 },
      { score: 5, rank: 2 }, // reached 5 after ann
      { score: 6, rank: 1 },
      'E_INVALID_ARGUMENT',
      { score: 9, rank: 1 },
      { score: 6, rank: 2 },
    ])
    expect(await lb.rank('cid')).toBeUndefined()
    expect((await lb.top(5)).map((e) => [e.member, e.score])).toEqual([
      ['ben', 9],
      ['ann', 6],
    ])
    // A member whose index entry is planted fails alone; the others of its tick are applied once.
    const index = `${prefix}:{batched}:lb:all:index`
    await rk.connection.send(['HSET', index, 'bad', 'planted'], { key: index })
    const mixed = await Promise.allSettled([lb.incr('ann', 1), lb.incr('bad', 1), lb.incr('ben', 1)])
    expect(mixed.map((r) => (r.status === 'fulfilled' ? r.value.score : (r.reason as { code: string }).code))).toEqual([7, 'E_DECODE', 10])
    expect((await lb.top(5)).map((e) => [e.member, e.score])).toEqual([
      ['ben', 10],
      ['ann', 7],
    ])
  })
})
