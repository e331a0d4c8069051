import { decider, type RateLimitMiddlewareOptions } from './middleware.js'

interface FastifyLikeRequest {
  ip?: string | undefined
}

interface FastifyLikeReply {
  header(name: string, value: string): unknown
  code(status: number): FastifyLikeReply
  send(payload?: unknown): unknown
}

/**
 * A Fastify `onRequest` hook: `app.addHook('onRequest', rateLimitFastify({ limiter }))` for every
 * route, or `{ onRequest: rateLimitFastify({ limiter: loginLimiter }) }` in one route's options.
 * Sets the RateLimit header fields; answers 429 with Retry-After when the limit is spent.
 */
export function rateLimitFastify<Req extends FastifyLikeRequest = FastifyLikeRequest, Reply extends FastifyLikeReply = FastifyLikeReply>(
  options: RateLimitMiddlewareOptions<Req>,
): (request: Req, reply: Reply) => Promise<Reply | undefined> {
  const decide = decider(options)
  return async (request, reply) => {
    const decision = await decide(request)
    if (decision.kind === 'fail') throw decision.error
    for (const [name, value] of decision.headers) reply.header(name, value)
    if (decision.kind === 'pass') return undefined
    reply.code(decision.status).send(decision.body)
    return reply
  }
}
