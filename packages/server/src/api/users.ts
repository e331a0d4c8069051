import type { FastifyPluginAsync } from 'fastify'
import { type Scenarios, userKey } from '../scenarios.js'
import { requireDatabase } from './database.js'
import { apiError } from './errors.js'

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
} as const

/**
 * Users from the demo database, cache-aside with every guard: a Bloom filter of the ids that exist
 * (an unknown id never reaches the database), negative caching, one loader per key across processes,
 * stale-while-revalidate and a near cache. `PUT` writes the database, then invalidates the entry.
 */
export function userRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    app.addHook('preHandler', requireDatabase(scenarios))
    app.get<{ Params: { id: number } }>('/api/users/:id', { schema: { params: idParam } }, async (request, reply) => {
      const { id } = request.params
      const user = await scenarios.users.getOrLoad(userKey(id), () => scenarios.db.getUser(id))
      if (!user) return reply.code(404).send(apiError('E_NOT_FOUND', `no user ${id}`))
      return user
    })

    app.put<{ Params: { id: number }; Body: { name?: string; email?: string } }>(
      '/api/users/:id',
      {
        schema: {
          params: idParam,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 200 },
              email: { type: 'string', minLength: 3, maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' },
            },
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        const user = await scenarios.db.updateUser(id, request.body)
        if (!user) return reply.code(404).send(apiError('E_NOT_FOUND', `no user ${id}`))
        await scenarios.users.delete(userKey(id))
        scenarios.hub.publish('cache', { key: userKey(id), invalidated: true })
        return user
      },
    )
  }
}

export function cacheSnapshot(scenarios: Scenarios) {
  const stats = { ...scenarios.users.stats }
  const lookups = stats.hits + stats.misses
  return {
    name: 'users',
    stats,
    hitRatio: lookups === 0 ? null : stats.hits / lookups,
    databaseReads: scenarios.databaseStatus().state === 'open' ? scenarios.db.reads : 0,
  }
}
