import { withTimeout } from '../../core/async.js'
import { type ErrorCode, ErrorCodes, isRedkitError, RedkitError } from '../../core/errors.js'
import type { RateLimitResult } from '../types.js'
import { defaultPolicyName, type RateLimitHeaderDraft, rateLimitHeaders } from './headers.js'
import { RateLimiter } from './limiter.js'

export interface RateLimitMiddlewareOptions<Req> {
  /** The limiter, or one per request (per-route limits); `undefined` lets the request through unlimited. */
  limiter: RateLimiter | ((request: Req) => RateLimiter | undefined)
  /** The key a request is counted under. @defaultValue the client IP (`request.ip`) */
  keyGenerator?: (request: Req) => string | Promise<string>
  /** Cost of a request. @defaultValue 1 */
  cost?: number | ((request: Req) => number)
  /** Requests for which this returns true are neither counted nor limited. */
  skip?: (request: Req) => boolean | Promise<boolean>
  /** Header fields to send, or false for none (Retry-After is still sent on 429). @defaultValue 'draft-8' */
  headers?: RateLimitHeaderDraft | false
  /** Draft 8 policy name. @defaultValue `<limit>-in-<window>s` */
  policyName?: string
  /**
   * When Redis cannot decide (down, cut, unreachable, busy): true lets requests through (fail open),
   * false answers 503 with Retry-After (fail closed). Keys already in the in-memory block stay
   * denied either way. Bad keys and costs are never swallowed: they go to the framework's error handler.
   * @defaultValue false
   */
  failOpen?: boolean
  /** Status of a denied request. @defaultValue 429 */
  statusCode?: number
  /** Body of a denied request (JSON-encoded when not a string). @defaultValue { error: 'Too Many Requests', retryAfterMs } */
  message?: string | Record<string, unknown>
  /** Hears every error Redis gave (also those failed open); a throw here is ignored, never a 500. */
  onError?: (error: RedkitError, request: Req) => void
  /**
   * Longest wait for Redis's decision, in ms; past it the request is decided as when Redis is down
   * (E_TIMEOUT, then `failOpen`). A stalled server or half-open socket would otherwise hold every
   * request until the connection's health check replaces it (seconds). The decision still lands
   * in Redis if it arrives later. @defaultValue 500
   */
  timeoutMs?: number
}

export type Decision =
  | { kind: 'pass'; headers: Array<[string, string]> }
  | { kind: 'deny'; status: number; headers: Array<[string, string]>; body: string }
  | { kind: 'fail'; error: unknown }

// Redis could not decide: down, cut, closed, refusing, busy, or holding data redkit did not write.
// Bad keys and costs (E_INVALID_*) are the application's bugs and go to its error handler.
const UNAVAILABLE: readonly ErrorCode[] = [
  ErrorCodes.E_CONNECTION,
  ErrorCodes.E_TIMEOUT,
  ErrorCodes.E_CLOSED,
  ErrorCodes.E_REDIS,
  ErrorCodes.E_SCRIPT,
  ErrorCodes.E_DECODE,
  ErrorCodes.E_AUTH,
]

const DEFAULT_TIMEOUT_MS = 500

function invalid(message: string): never {
  throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `rate limit middleware: ${message}`)
}

/** Every option's type, checked when the middleware is built rather than failing on each request. */
function checkOptions<Req>(o: RateLimitMiddlewareOptions<Req>): void {
  for (const name of ['keyGenerator', 'skip', 'onError'] as const)
    if (o[name] !== undefined && typeof o[name] !== 'function') invalid(`${name} must be a function`)
  if (o.cost !== undefined && typeof o.cost !== 'function' && !(Number.isSafeInteger(o.cost) && o.cost >= 1))
    invalid('cost must be a positive integer or a function')
  if (o.failOpen !== undefined && typeof o.failOpen !== 'boolean') invalid('failOpen must be a boolean')
  if (o.policyName !== undefined && (typeof o.policyName !== 'string' || !/^[\x20-\x7e]{1,100}$/.test(o.policyName)))
    invalid('policyName must be 1 to 100 printable ASCII characters')
  if (o.timeoutMs !== undefined && !(Number.isInteger(o.timeoutMs) && o.timeoutMs >= 1 && o.timeoutMs <= 60_000))
    invalid('timeoutMs must be an integer from 1 to 60000')
  const message = o.message
  if (message !== undefined && typeof message !== 'string') {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) invalid('message must be a string or an object')
    try {
      JSON.stringify(message)
    } catch {
      invalid('message must be JSON-serializable')
    }
  }
}

const JSON_TYPE: [string, string] = ['Content-Type', 'application/json; charset=utf-8']
const TEXT_TYPE: [string, string] = ['Content-Type', 'text/plain; charset=utf-8']

/** The framework-free part of the middleware: what to do with one request. */
export function decider<Req extends { ip?: string | undefined }>(
  options: RateLimitMiddlewareOptions<Req>,
): (request: Req) => Promise<Decision> {
  if (options === null || typeof options !== 'object' || !(options.limiter instanceof RateLimiter || typeof options.limiter === 'function'))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'rate limit middleware needs { limiter }')
  const draft = options.headers ?? 'draft-8'
  if (draft !== false && draft !== 'draft-6' && draft !== 'draft-7' && draft !== 'draft-8')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `headers must be 'draft-6', 'draft-7', 'draft-8' or false`)
  const status = options.statusCode ?? 429
  if (!Number.isInteger(status) || status < 400 || status > 599)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'statusCode must be an HTTP error status (400-599)')
  checkOptions(options)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const keyOf = options.keyGenerator ?? ((request: Req) => request.ip ?? 'unknown')
  const pick = typeof options.limiter === 'function' ? options.limiter : () => options.limiter as RateLimiter
  const costOf = typeof options.cost === 'function' ? options.cost : () => (options.cost as number | undefined) ?? 1

  const headersOf = (limiter: RateLimiter, result: RateLimitResult): Array<[string, string]> => {
    if (draft === false) return result.allowed ? [] : [['Retry-After', String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)))]]
    const name = options.policyName ?? defaultPolicyName(limiter.limit, limiter.windowMs)
    return rateLimitHeaders(result, { limit: limiter.limit, windowMs: limiter.windowMs, name }, draft)
  }
  const bodyOf = (result: RateLimitResult): [string, [string, string]] => {
    const message = options.message ?? { error: 'Too Many Requests', retryAfterMs: result.retryAfterMs }
    return typeof message === 'string' ? [message, TEXT_TYPE] : [JSON.stringify(message), JSON_TYPE]
  }

  return async (request) => {
    try {
      if (options.skip && (await options.skip(request))) return { kind: 'pass', headers: [] }
      const limiter = pick(request)
      if (limiter === undefined) return { kind: 'pass', headers: [] }
      let result: RateLimitResult
      const consumed = limiter.consume(await keyOf(request), costOf(request))
      try {
        result = await withTimeout(consumed, timeoutMs, () => {
          consumed.catch(() => {})
          throw new RedkitError(ErrorCodes.E_TIMEOUT, `rate limiter ${limiter.name}: no decision from Redis within ${timeoutMs} ms`)
        })
      } catch (error) {
        if (!isRedkitError(error) || !UNAVAILABLE.includes(error.code)) throw error
        try {
          options.onError?.(error, request)
        } catch {
          // A failing logger must not turn fail-open into a 500: the decision below stands.
        }
        if (options.failOpen === true) return { kind: 'pass', headers: [] }
        return {
          kind: 'deny',
          status: 503,
          headers: [JSON_TYPE, ['Retry-After', '1']],
          body: JSON.stringify({ error: 'Service Unavailable', reason: 'rate limiter unavailable' }),
        }
      }
      const headers = headersOf(limiter, result)
      if (result.allowed) return { kind: 'pass', headers }
      const [body, type] = bodyOf(result)
      return { kind: 'deny', status, headers: [...headers, type], body }
    } catch (error) {
      return { kind: 'fail', error }
    }
  }
}
