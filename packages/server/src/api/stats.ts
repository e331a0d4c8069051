import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { rateLimitFastify } from 'redkit/stats'
import type { Scenarios } from '../scenarios.js'
import { apiError } from './errors.js'
import { idParams, idString } from './schemas.js'

/** Page views (time series + unique visitors), the leaderboard, and a rate-limited route. */
export function statsRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { page: string }; Body: { visitor: string } }>(
      '/api/pages/:page/view',
      {
        schema: {
          params: idParams('page'),
          body: { type: 'object', required: ['visitor'], additionalProperties: false, properties: { visitor: idString } },
        },
      },
      async (request, reply) => {
        await Promise.all([scenarios.pageViews.incr(1), scenarios.visitors.add(request.body.visitor)])
        scenarios.hub.publish('page-view', { page: request.params.page })
        return reply.code(202).send({ counted: true })
      },
    )

    app.get<{ Querystring: { minutes: number } }>(
      '/api/stats/page-views',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 30 } },
          },
        },
      },
      async (request) => pageViewsSnapshot(scenarios, request.query.minutes),
    )

    app.get<{ Querystring: { n: number } }>(
      '/api/leaderboard',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { n: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
          },
        },
      },
      async (request) => ({ top: await scenarios.board.top(request.query.n), size: await scenarios.board.size() }),
    )

    app.get<{ Params: { player: string }; Querystring: { n: number } }>(
      '/api/leaderboard/:player',
      {
        schema: {
          params: idParams('player'),
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { n: { type: 'integer', minimum: 0, maximum: 50, default: 2 } },
          },
        },
      },
      async (request, reply) => {
        const { player } = request.params
        const rank = await scenarios.board.rank(player)
        if (!rank) return reply.code(404).send(apiError('E_NOT_FOUND', `no player '${player}' on the leaderboard`))
        return { ...rank, around: await scenarios.board.around(player, request.query.n) }
      },
    )

    app.post<{ Params: { player: string }; Body: { by: number } }>(
      '/api/leaderboard/:player/score',
      {
        schema: {
          params: idParams('player'),
          body: {
            type: 'object',
            required: ['by'],
            additionalProperties: false,
            properties: { by: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 } },
          },
        },
      },
      async (request) => {
        const result = await scenarios.board.incr(request.params.player, request.body.by)
        scenarios.hub.publish('leaderboard', { player: request.params.player, ...result })
        return { player: request.params.player, ...result }
      },
    )

    const limit = rateLimitFastify<FastifyRequest, FastifyReply>({
      limiter: scenarios.limiter,
      // A demo client names itself (the dashboard, the load generator); otherwise its address counts.
      keyGenerator: (request) => {
        const header = request.headers['x-client-id']
        return typeof header === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(header) ? header : (request.ip ?? 'unknown')
      },
    })
    app.get(
      '/api/limited',
      {
        onRequest: limit,
        onResponse: async (_request, reply) => {
          const denied = reply.statusCode === 429
          if (denied) scenarios.rateDecisions.denied++
          else scenarios.rateDecisions.allowed++
          scenarios.hub.publish('rate-limit', { allowed: !denied })
        },
      },
      async () => ({ ok: true, limit: scenarios.rateLimit, windowMs: scenarios.rateWindowMs }),
    )
  }
}

export async function pageViewsSnapshot(scenarios: Scenarios, minutes = 30) {
  const to = Date.now()
  const from = to - (minutes - 1) * 60_000
  const [buckets, uniqueVisitors] = await Promise.all([
    scenarios.pageViews.range({ from, to, granularity: 'minute' }),
    scenarios.visitors.count({ from: to - 3600_000, to }),
  ])
  return { granularity: 'minute', buckets, uniqueVisitorsLastHour: uniqueVisitors }
}
