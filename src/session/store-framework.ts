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

/** Turns stored data back into express-session's Session and Cookie objects on the request. */
export function expressSessionOf<S>(req: FrameworkRequest, data: FrameworkSession): S {
  const { Cookie, Session } = expressSession()
  const stored = (data.cookie ?? {}) as { expires?: unknown; originalMaxAge?: unknown }
  const cookie = new Cookie(stored)
  if (typeof stored.expires === 'string') cookie.expires = new Date(stored.expires)
  cookie.originalMaxAge = stored.originalMaxAge
  req.session = new Session(req, { ...data, cookie })
  return req.session as S
}

/**
 * Runs a store operation for both calling styles: node callback, or the returned promise. With a
 * callback the error goes there only (the promise the framework ignores never rejects), and the
 * callback runs outside the promise chain: one that throws is reported through `onThrow`, never
 * an unhandled rejection, and is never called a second time with its own error.
 */
export function settle<T>(work: Promise<T>, callback: StoreCallback<T> | undefined, onThrow: (error: unknown) => void): Promise<T> {
  if (!callback) return work
  const call = (error: Error | null, result?: T) => {
    try {
      callback(error, result)
    } catch (thrown) {
      onThrow(thrown)
    }
  }
  return work.then(
    (result) => {
      call(null, result)
      return result
    },
    (error: Error) => {
      call(error)
      return undefined as T
    },
  )
}
