import { createRequire } from 'node:module'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { FrameworkSession, StoreCallback } from './store-options.js'

/** What express-session hands its store: the request whose session is loaded or regenerated. */
export type FrameworkRequest = { sessionID?: string; session?: unknown; sessionStore?: unknown }

type ExpressSessionModule = {
  Session: new (req: FrameworkRequest, data: unknown) => unknown
  Cookie: new (options: unknown) => { expires?: unknown; originalMaxAge?: unknown }
}

let express: ExpressSessionModule | undefined

/** express-session's Session and Cookie classes, loaded on first use (it is an optional peer). */
export function expressSession(): ExpressSessionModule {
  if (express) return express
  try {
    express = createRequire(import.meta.url)('express-session') as ExpressSessionModule
    return express
  } catch (error) {
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      'createSession is for express-session, which is not installed (npm install express-session)',
      {
        cause: error,
      },
    )
  }
}

/** A valid expiry: a date string or a Date that names a time (Date.parse allocates no Date). */
function isExpiry(v: unknown): boolean {
  return typeof v === 'string' ? Number.isFinite(Date.parse(v)) : v instanceof Date && Number.isFinite(v.getTime())
}

/**
 * The cookie fields a stored session may carry (express-session's and @fastify/session's), each
 * with the types it may have; null or absent means the framework's default.
 */
const COOKIE_FIELDS: ReadonlyArray<readonly [string, (value: unknown) => boolean]> = [
  ['expires', isExpiry],
  ['originalMaxAge', (v) => typeof v === 'number' && Number.isFinite(v)],
  ['httpOnly', (v) => typeof v === 'boolean'],
  ['secure', (v) => typeof v === 'boolean' || v === 'auto'],
  ['path', (v) => typeof v === 'string'],
  ['domain', (v) => typeof v === 'string'],
  ['sameSite', (v) => typeof v === 'boolean' || typeof v === 'string'],
  ['partitioned', (v) => typeof v === 'boolean'],
  ['priority', (v) => typeof v === 'string'],
  ['signed', (v) => typeof v === 'boolean'],
]

function wrongShape(problem: string): RedkitError {
  return new RedkitError(ErrorCodes.E_DECODE, `stored session ${problem}`)
}

/**
 * Checks a stored cookie's known fields, and copies them into `into` when given: nothing else is
 * copied, so stored data never sets a prototype (an own `__proto__` key) or a method (`serialize`)
 * on the Cookie. Every read checks (without copying, so a read allocates nothing here).
 * @throws RedkitError E_DECODE for a cookie or a field of the wrong type
 */
function checkCookie(stored: unknown, into?: Record<string, unknown>): void {
  if (stored === undefined || stored === null) return
  if (typeof stored !== 'object' || Array.isArray(stored)) throw wrongShape('cookie is not an object')
  for (let i = 0; i < COOKIE_FIELDS.length; i++) {
    const [field, valid] = COOKIE_FIELDS[i] as readonly [string, (value: unknown) => boolean]
    const value = (stored as Record<string, unknown>)[field]
    if (value === undefined || value === null) continue
    if (!valid(value)) throw wrongShape(`cookie field ${field} has the wrong type (${typeof value})`)
    if (into) into[field] = value
  }
}

/** Checks that stored data is a session a framework can use. @throws RedkitError E_DECODE */
export function checkStoredSession(data: unknown): asserts data is FrameworkSession {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw wrongShape('is not an object')
  checkCookie((data as FrameworkSession).cookie)
}

/**
 * Turns stored data back into express-session's Session and Cookie objects on the request.
 * @throws RedkitError E_DECODE for data of the wrong shape
 */
export function expressSessionOf<S>(req: FrameworkRequest, data: FrameworkSession): S {
  const { Cookie, Session } = expressSession()
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw wrongShape('is not an object')
  const fields: Record<string, unknown> = {}
  checkCookie(data.cookie, fields)
  if (typeof fields.expires === 'string') fields.expires = new Date(fields.expires)
  const cookie = new Cookie(fields)
  // As express-session's own createSession: the stored originalMaxAge (checked above, or null), not
  // one computed from expires.
  cookie.originalMaxAge = (data.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge
  req.session = new Session(req, { ...data, cookie })
  return req.session as S
}

/**
 * Runs a store operation for both calling styles: node callback, or the returned promise. With a
 * callback the error goes there only (the promise the framework ignores never rejects), and the
 * callback runs outside the promise chain: one that throws is reported through `onThrow`, never
 * an unhandled rejection, and is never called a second time with its own error. Without one, the
 * work's own promise is returned as is (no wrapper, no closure).
 */
export function settle<T>(work: Promise<T>, callback: StoreCallback<T> | undefined, onThrow: (error: unknown) => void): Promise<T> {
  if (!callback) return work
  return work.then(
    (result) => {
      call(callback, null, result, onThrow)
      return result
    },
    (error: Error) => {
      call(callback, error, undefined, onThrow)
      return undefined as T
    },
  )
}

function call<T>(callback: StoreCallback<T>, error: Error | null, result: T | undefined, onThrow: (error: unknown) => void): void {
  try {
    callback(error, result)
  } catch (thrown) {
    onThrow(thrown)
  }
}
