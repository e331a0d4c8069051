import type { IncomingMessage, ServerResponse } from 'node:http'
import { decider, type RateLimitMiddlewareOptions } from './middleware.js'

type ExpressLikeRequest = IncomingMessage & { ip?: string | undefined }

/**
 * Express (or Connect, or plain `node:http`) middleware: counts each request, sets the RateLimit
 * header fields, and answers 429 with Retry-After when the limit is spent. Per-route limits: mount
 * one middleware per route, or pass `limiter: (req) => ...`.
 */
export function rateLimitExpress<Req extends ExpressLikeRequest = ExpressLikeRequest>(
  options: RateLimitMiddlewareOptions<Req>,
): (request: Req, response: ServerResponse, next: (error?: unknown) => void) => void {
  const decide = decider(options)
  return (request, response, next) => {
    decide(request).then((decision) => {
      if (decision.kind === 'fail') return next(decision.error)
      if (!response.headersSent) for (const [name, value] of decision.headers) response.setHeader(name, value)
      if (decision.kind === 'pass') return next()
      response.statusCode = decision.status
      response.end(decision.body)
    }, next)
  }
}
