import type { FastifyPluginAsync } from 'fastify'
import type { DatabaseStatus } from '../scenarios.js'

export interface HealthOk {
  status: 'ok'
  redis: { topology: string; latencyMs: number }
  /** With the scenarios: the demo database (the status is Redis's: the routes on Redis answer while it opens). */
  database?: DatabaseStatus
}

export interface HealthUnavailable {
  status: 'unavailable'
  error: { code: string; message: string }
  database?: DatabaseStatus
}

const database = {
  type: 'object',
  properties: { state: { type: 'string' }, description: { type: 'string' }, ms: { type: 'number' }, error: { type: 'string' } },
} as const

// The response schemas double as an allow-list: nothing but these fields can reach the body.
const schema = {
  response: {
    200: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        redis: { type: 'object', properties: { topology: { type: 'string' }, latencyMs: { type: 'number' } } },
        database,
      },
    },
    503: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
        database,
      },
    },
  },
} as const

/** `GET /health`: 200 when Redis answers a bounded PING, 503 with the error code otherwise; `database` says where the demo database stands. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', { schema }, async (_request, reply) => {
    const result = await app.redisProbe.check()
    reply.header('cache-control', 'no-store')
    if (result.ok) {
      const body: HealthOk = {
        status: 'ok',
        redis: { topology: app.redkit.topology, latencyMs: Math.round(result.latencyMs * 1000) / 1000 },
      }
      if (app.databaseStatus) body.database = app.databaseStatus()
      return reply.code(200).send(body)
    }
    const body: HealthUnavailable = { status: 'unavailable', error: { code: result.error.code, message: result.error.message } }
    if (app.databaseStatus) body.database = app.databaseStatus()
    return reply.code(503).send(body)
  })
}
