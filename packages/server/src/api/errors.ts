import type { FastifyError, FastifyInstance } from 'fastify'
import { isRedkitError } from 'redkit'

/** The body of every 4xx/5xx the API sends. */
export interface ApiErrorBody {
  error: { code: string; message: string }
}

export function apiError(code: string, message: string): ApiErrorBody {
  return { error: { code, message } }
}

const BAD_INPUT = new Set(['E_INVALID_ARGUMENT', 'E_INVALID_KEY', 'E_ENCODE', 'E_TOO_LARGE'])
const UNAVAILABLE = new Set(['E_CONNECTION', 'E_TIMEOUT', 'E_CLOSED'])

/**
 * One error shape for the whole API: schema failures are 400 `E_VALIDATION` with Fastify's message
 * (`body/qty must be >= 1`), a library RedkitError for bad input is 400 with its code, Redis being
 * unreachable is 503, anything else is 500 without internals.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send(apiError('E_VALIDATION', error.message))
    }
    if (isRedkitError(error)) {
      if (BAD_INPUT.has(error.code)) return reply.code(400).send(apiError(error.code, error.message))
      if (UNAVAILABLE.has(error.code)) return reply.code(503).send(apiError(error.code, error.message))
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status < 500) return reply.code(status).send(apiError(error.code ?? 'E_BAD_REQUEST', error.message))
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send(apiError('E_INTERNAL', 'internal error'))
  })
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(apiError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  })
}
