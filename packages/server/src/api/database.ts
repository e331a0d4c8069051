import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Scenarios } from '../scenarios.js'
import { apiError } from './errors.js'

/**
 * The service listens before the demo database is open (PGlite takes seconds to open, 10-20 s the
 * first time on a loaded machine). Routes that need it register this preHandler: until the database
 * is open they answer 503 `E_DB_OPENING` with `Retry-After: 1`, and 503 `E_DB_UNAVAILABLE` with the
 * reason if it could not be opened. Validation runs first, so bad input is still a 400.
 */
export function requireDatabase(scenarios: Scenarios) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    const status = scenarios.databaseStatus()
    if (status.state === 'open') return
    if (status.state === 'opening') {
      reply.header('retry-after', '1')
      return reply
        .code(503)
        .send(
          apiError(
            'E_DB_OPENING',
            `the demo database is still opening (${(status.ms / 1000).toFixed(1)} s so far); this route needs it, the routes on Redis alone answer already: retry in a moment`,
          ),
        )
    }
    return reply.code(503).send(apiError('E_DB_UNAVAILABLE', `the demo database could not be opened: ${status.error ?? 'unknown error'}`))
  }
}
