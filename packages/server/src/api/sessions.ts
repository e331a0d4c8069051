import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Scenarios } from '../scenarios.js'
import { apiError } from './errors.js'
import { idString } from './schemas.js'

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(header) : null
  return match?.[1]
}

function client(request: FastifyRequest) {
  const userAgent = request.headers['user-agent']
  return { ip: request.ip, ...(typeof userAgent === 'string' ? { userAgent } : {}) }
}

/** Sessions: log in (one session per device), list a user's devices, log out here or everywhere. The token travels as `Authorization: Bearer`. */
export function sessionRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    const { sessions } = scenarios
    const current = async (request: FastifyRequest) => {
      const token = bearer(request)
      if (!token) return undefined
      const session = await sessions.get(token, client(request))
      return session ? { token, session } : undefined
    }
    const unauthorized = apiError(
      'E_UNAUTHORIZED',
      'send a live session token as `Authorization: Bearer <token>` (POST /api/sessions to log in)',
    )

    app.post<{ Body: { user: string; device: string } }>(
      '/api/sessions',
      {
        schema: {
          body: {
            type: 'object',
            required: ['user', 'device'],
            additionalProperties: false,
            properties: { user: idString, device: idString },
          },
        },
      },
      async (request, reply) => {
        const { user, device } = request.body
        const session = await sessions.create(user, { user, device }, client(request))
        scenarios.hub.publish('session', { user, device, login: true })
        return reply
          .code(201)
          .send({ token: session.token, handle: sessions.handleOf(session.token), user, device, expiresAt: session.expiresAt })
      },
    )

    app.get('/api/sessions', async (request, reply) => {
      const me = await current(request)
      if (!me) return reply.code(401).send(unauthorized)
      const userId = me.session.userId as string
      const list = await sessions.listForUser(userId)
      return { user: userId, current: sessions.handleOf(me.token), sessions: list }
    })

    app.delete('/api/sessions/current', async (request, reply) => {
      const me = await current(request)
      if (!me) return reply.code(401).send(unauthorized)
      await sessions.destroy(me.token)
      scenarios.hub.publish('session', { user: me.session.userId, ended: 1 })
      return { ended: 1 }
    })

    app.delete('/api/sessions', async (request, reply) => {
      const me = await current(request)
      if (!me) return reply.code(401).send(unauthorized)
      const ended = await sessions.destroyAllForUser(me.session.userId as string)
      scenarios.hub.publish('session', { user: me.session.userId, ended, everywhere: true })
      return { ended }
    })
  }
}
