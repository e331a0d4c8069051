import { describe, expect, expectTypeOf, it } from 'vitest'
import type { Redkit } from '../../src/index.js'
import {
  type BloomFilter,
  type BloomSize,
  type Bucket,
  type Granularity,
  type Leaderboard,
  type LeaderboardEntry,
  type RateLimiter,
  type RateLimitResult,
  rateLimitExpress,
  rateLimitFastify,
  type SlidingWindowCounter,
  type Timeseries,
  type UniqueCounter,
} from '../../src/stats/index.js'

// Compile-time checks (tsc runs over test/): the factories return their classes, every call's
// answer is typed, and wrong option types do not compile. The function is never called.
async function typings(rk: Redkit) {
  const limiter = rk.rateLimiter('api', { limit: 100, windowMs: 60_000, algorithm: 'token-bucket' })
  expectTypeOf(limiter).toEqualTypeOf<RateLimiter>()
  expectTypeOf(await limiter.consume('user', 2)).toEqualTypeOf<RateLimitResult>()
  expectTypeOf((await limiter.peek('user')).allowed).toBeBoolean()
  expectTypeOf((await limiter.consume('user')).retryAfterMs).toBeNumber()
  expectTypeOf(await limiter.reset('user')).toBeVoid()
  expectTypeOf(limiter.blockedKeys).toBeNumber()
  // @ts-expect-error a rate limiter needs its limit and window
  rk.rateLimiter('api', { limit: 1 })
  // @ts-expect-error the algorithm is one of three names
  rk.rateLimiter('api', { limit: 1, windowMs: 1, algorithm: 'leaky-bucket' })
  // @ts-expect-error a cost is a number
  limiter.consume('user', '2')

  const board = rk.leaderboard('game', { period: 'daily', timeZone: 'Europe/Berlin', order: 'desc', maxSize: 100 })
  expectTypeOf(board).toEqualTypeOf<Leaderboard>()
  expectTypeOf(await board.incr('ann', 5)).toEqualTypeOf<{ score: number; rank: number }>()
  expectTypeOf(await board.add('ann', 5)).toEqualTypeOf<{ score: number; rank: number }>()
  expectTypeOf(await board.top(10)).toEqualTypeOf<LeaderboardEntry[]>()
  expectTypeOf(await board.rank('ann', { at: new Date() })).toEqualTypeOf<LeaderboardEntry | undefined>()
  expectTypeOf(await board.around('ann', 2)).toEqualTypeOf<LeaderboardEntry[]>()
  expectTypeOf(await board.page(0, 20)).toEqualTypeOf<LeaderboardEntry[]>()
  expectTypeOf(await board.remove('ann')).toBeBoolean()
  expectTypeOf(await board.size()).toBeNumber()
  // @ts-expect-error boards roll over daily or weekly, not hourly
  rk.leaderboard('game', { period: 'hourly' })

  const views = rk.timeseries('views', { granularities: ['minute', 'day'], retention: { minute: 3_600_000 } })
  expectTypeOf(views).toEqualTypeOf<Timeseries>()
  expectTypeOf(await views.incr(1, Date.now())).toEqualTypeOf<Partial<Record<Granularity, number>>>()
  expectTypeOf(await views.range({ from: new Date(), to: Date.now(), granularity: 'day' })).toEqualTypeOf<Bucket[]>()
  // @ts-expect-error weeks are not a timeseries granularity
  rk.timeseries('views', { granularities: ['week'] })

  const visitors = rk.unique('visitors', { granularity: 'hour' })
  expectTypeOf(visitors).toEqualTypeOf<UniqueCounter>()
  expectTypeOf(await visitors.add('u1')).toBeBoolean()
  expectTypeOf(await visitors.addMany(['u1', 'u2'], new Date())).toBeBoolean()
  expectTypeOf(await visitors.count({ from: 0, to: Date.now() })).toBeNumber()

  const recent = rk.slidingWindow('requests', { windowMs: 60_000 })
  expectTypeOf(recent).toEqualTypeOf<SlidingWindowCounter>()
  expectTypeOf(await recent.incr()).toBeNumber()
  expectTypeOf(await recent.count()).toBeNumber()
  // @ts-expect-error a sliding window needs its windowMs
  rk.slidingWindow('requests', {})

  const ids = rk.bloom('ids', { expectedItems: 1000, falsePositiveRate: 0.01, backend: 'lua' })
  expectTypeOf(ids).toEqualTypeOf<BloomFilter>()
  expectTypeOf(await ids.add('x')).toBeBoolean()
  expectTypeOf(await ids.addMany(['x'])).toEqualTypeOf<boolean[]>()
  expectTypeOf(await ids.mightContain('x')).toBeBoolean()
  expectTypeOf(await ids.mightContainMany(['x'])).toEqualTypeOf<boolean[]>()
  expectTypeOf(await ids.size()).toEqualTypeOf<BloomSize>()
  expectTypeOf(await ids.backend()).toEqualTypeOf<'server' | 'lua'>()
  // @ts-expect-error the backend is auto, server or lua
  rk.bloom('ids', { expectedItems: 1, falsePositiveRate: 0.1, backend: 'disk' })

  const express = rateLimitExpress({ limiter, keyGenerator: (req) => String(req.ip), failOpen: true, headers: 'draft-7' })
  expectTypeOf(express).toBeFunction()
  const fastify = rateLimitFastify({ limiter: () => limiter, timeoutMs: 200 })
  expectTypeOf(fastify).toBeFunction()
  // @ts-expect-error headers are draft-6, draft-7, draft-8 or false
  rateLimitExpress({ limiter, headers: 'draft-9' })
}

describe('stats types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })
})
