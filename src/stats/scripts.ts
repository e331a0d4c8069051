import { defineScript } from '../core/scripts.js'

/** Reply of every rate limiter script: allowed, remaining, resetMs, retryAfterMs, retryOneMs, server time. */
export type RateLimitReply = [allowed: 0 | 1, remaining: number, resetMs: number, retryAfterMs: number, retryOneMs: number, now: number]
type RateLimitArgs = [limit: number, windowMs: number, cost: number]

/** Typed handles on the stats scripts (src/lua/<name>.lua); the KEYS/ARGV order is each file's header. */
export const scripts = {
  rateLimit: {
    'sliding-window': defineScript<[log: string], RateLimitArgs, RateLimitReply>('ratelimit-sliding'),
    'token-bucket': defineScript<[tat: string], RateLimitArgs, RateLimitReply>('ratelimit-gcra'),
    'fixed-window': defineScript<[counter: string], RateLimitArgs, RateLimitReply>('ratelimit-fixed'),
  },
}
