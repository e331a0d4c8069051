import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { validateCount, validateMs } from '../core/backoff.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { SessionRecords, validateUserId } from './records.js'
import { idHash } from './security.js'

/**
 * What the store reads of a framework's session object (express-session's and @fastify/session's
 * both fit): the cookie's expiry. Everything else is the application's data.
 */
export interface FrameworkSession {
  cookie?: { expires?: Date | string | null | undefined; maxAge?: number | null | undefined } | undefined
}

/** A session as read back: the framework's fields and the application's data. */
export type StoredSessionData = FrameworkSession & Record<string, unknown>

export type StoreCallback<T = void> = (error: Error | null, result?: T) => void

export interface SessionStoreOptions {
  /** The redkit instance (`await createRedkit(...)`). */
  redkit: RedkitContext
  /** Keeps this store's sessions apart from other stores and session managers. @defaultValue 'web' */
  name?: string
  /** TTL of a session whose cookie has no expiry. @defaultValue 86_400_000 (24 h) */
  ttlMs?: number
  /**
   * The user a session belongs to, for `listForUser` and `destroyAllForUser` (revoke everywhere).
   * Return undefined for anonymous sessions. Without it, sessions are not indexed by user.
   */
  userIdOf?: (session: StoredSessionData) => string | undefined
  /** How sessions are written. JSON by default, like the frameworks' own stores (class instances become plain objects). */
  serializer?: { stringify(session: FrameworkSession): string; parse(text: string): StoredSessionData }
  /** Largest serialized session, in bytes. @defaultValue 65_536 */
  maxDataBytes?: number
  /** Do not extend the TTL on `touch` (sessions then end at their first TTL unless saved). @defaultValue false */
  disableTouch?: boolean
}

export interface SessionStoreEvents {
  /** A stored session that could not be parsed: the request gets no session, the error lands here. */
  error: [RedkitError]
}

type Request = { sessionID?: string; session?: unknown; sessionStore?: unknown }
type ExpressSessionModule = {
  Session: new (req: Request, data: unknown) => unknown
  Cookie: new (options: unknown) => { expires?: unknown; originalMaxAge?: unknown }
}

/**
 * A session store for express-session (pass it as `store`) and @fastify/session: every method takes
 * a callback, or returns a promise without one. Sessions expire by Redis TTL (from the cookie's
 * expiry, else `ttlMs`); with `userIdOf`, each user's sessions are indexed so they can be listed
 * and revoked everywhere.
 */
export class RedkitSessionStore extends EventEmitter<SessionStoreEvents> {
  readonly #rk: RedkitContext
  readonly #records: SessionRecords
  readonly #ttlMs: number
  readonly #userIdOf: ((session: StoredSessionData) => string | undefined) | undefined
  readonly #serializer: NonNullable<SessionStoreOptions['serializer']>
  readonly #maxDataBytes: number
  readonly #disableTouch: boolean
  #express: ExpressSessionModule | undefined
  /** Set by express-session on its store: makes a new session on a request. */
  generate?: (req: Request) => void

  constructor(options: SessionStoreOptions) {
    super()
    if (!options?.redkit?.connection) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'RedkitSessionStore needs { redkit }')
    this.#rk = options.redkit
    const connection = this.#rk.connection
    // A framework's session is one string (like connect-redis's): get, set and touch are one plain
    // command each. With userIdOf, the owner is read from the data itself.
    this.#records = new SessionRecords(this.#rk, options.name ?? 'web', {
      ownerOf: async (key) => {
        if (!this.#userIdOf) return ''
        const text = await connection.send<string | null>(['GET', key], { key })
        return text === null ? null : this.#ownerIn(text)
      },
      remove: async (key) => (await connection.send<number>(['UNLINK', key], { key })) === 1,
    })
    this.#ttlMs = validateMs(options.ttlMs ?? 86_400_000, 'ttlMs')
    if (options.userIdOf !== undefined && typeof options.userIdOf !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'userIdOf must be a function')
    this.#userIdOf = options.userIdOf
    this.#serializer = options.serializer ?? JSON
    this.#maxDataBytes = validateCount(options.maxDataBytes ?? 65_536, 'maxDataBytes')
    this.#disableTouch = options.disableTouch ?? false
  }

  /** Runs the callback style and the promise style of one operation from the same work. */
  #settle<T>(work: Promise<T>, callback: StoreCallback<T> | undefined): Promise<T> {
    return settle(work, callback, (thrown) => {
      const error = new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `a session store callback threw: ${(thrown as Error)?.message ?? String(thrown)}`,
        {
          cause: thrown,
        },
      )
      if (this.listenerCount('error') > 0) this.emit('error', error)
      else process.emitWarning(error.message, { code: error.code })
    })
  }

  // The session type is a type parameter so that each framework's own Session type fits as is.

  get<S = StoredSessionData>(sid: string, callback?: StoreCallback<S | null>): Promise<S | null> {
    return this.#settle(this.#get(sid) as Promise<S | null>, callback)
  }

  set<S extends object>(sid: string, session: S, callback?: StoreCallback): Promise<void> {
    return this.#settle(this.#set(sid, session), callback)
  }

  touch<S extends object>(sid: string, session: S, callback?: StoreCallback): Promise<void> {
    return this.#settle(this.#touch(sid, session), callback)
  }

  destroy(sid: string, callback?: StoreCallback): Promise<void> {
    return this.#settle(
      (async () => {
        if (this.#isId(sid)) await this.#records.destroy(sid)
      })(),
      callback,
    )
  }

  /** Every session of this store, each with its `id`. */
  all<S = StoredSessionData>(callback?: StoreCallback<Array<S & { id: string }>>): Promise<Array<S & { id: string }>> {
    return this.#settle(this.#all() as Promise<Array<S & { id: string }>>, callback)
  }

  ids(callback?: StoreCallback<string[]>): Promise<string[]> {
    return this.#settle(this.#ids(), callback)
  }

  length(callback?: StoreCallback<number>): Promise<number> {
    return this.#settle(
      this.#ids().then((ids) => ids.length),
      callback,
    )
  }

  /** Deletes every session of this store, with their entries in the user indexes, on every master. */
  clear(callback?: StoreCallback): Promise<void> {
    return this.#settle(this.#clear(), callback)
  }

  /** The ids of a user's live sessions (needs `userIdOf`). */
  async listForUser(userId: string): Promise<string[]> {
    const user = validateUserId(userId)
    const live = await this.#records.list(user, async (id) => {
      const key = this.#records.key(id)
      const text = await this.#rk.connection.send<string | null>(['GET', key], { key })
      return text !== null && this.#ownerIn(text) === user ? id : undefined
    })
    return live.map(({ id }) => id)
  }

  /** Logs a user out everywhere, or everywhere but the session `except`. @returns how many ended */
  destroyAllForUser(userId: string, options: { except?: string } = {}): Promise<number> {
    return this.#records.destroyAll(validateUserId(userId), options.except)
  }

  // What express-session's own Store base class provides: its middleware calls these.

  /** express-session: replaces the request's session with a new one (on `req.session.regenerate`). */
  regenerate(req: Request, callback: (error?: Error) => unknown): void {
    this.destroy(req.sessionID ?? '', (error) => {
      this.generate?.(req)
      callback(error ?? undefined)
    })
  }

  /** express-session: loads a session by id into a Session object. */
  load<S = unknown>(sid: string, callback: (error: Error | null | undefined, session?: S) => unknown): void {
    this.get(sid, (error, session) => {
      if (error) return void callback(error)
      if (!session) return void callback(undefined)
      callback(null, this.createSession<S>({ sessionID: sid, sessionStore: this }, session))
    })
  }

  /** express-session: turns stored data back into its Session and Cookie objects on the request. */
  createSession<S = unknown>(req: Request, data: FrameworkSession): S {
    const express = this.#expressSession()
    const stored = (data.cookie ?? {}) as { expires?: unknown; originalMaxAge?: unknown }
    const cookie = new express.Cookie(stored)
    if (typeof stored.expires === 'string') cookie.expires = new Date(stored.expires)
    cookie.originalMaxAge = stored.originalMaxAge
    req.session = new express.Session(req, { ...data, cookie })
    return req.session as S
  }

  async #get(sid: string): Promise<StoredSessionData | null> {
    if (!this.#isId(sid)) return null
    const key = this.#records.key(sid)
    let text: string | null
    try {
      text = await this.#rk.connection.sendUnmapped<string | null>(['GET', key], key)
    } catch (error) {
      throw this.#rk.connection.mapError(error, 'GET')
    }
    if (text === null) return null
    try {
      return this.#serializer.parse(text)
    } catch (error) {
      // A session that cannot be read is no session: the user signs in again, the store stays up.
      const failure = new RedkitError(ErrorCodes.E_DECODE, `stored session ${idHash(sid)} cannot be parsed`, { cause: error })
      if (this.listenerCount('error') > 0) this.emit('error', failure)
      return null
    }
  }

  async #set(sid: string, session: FrameworkSession): Promise<void> {
    this.#requireId(sid)
    const ttl = this.#ttlOf(session)
    if (ttl <= 0) {
      await this.#records.destroy(sid)
      return
    }
    let text: string
    try {
      text = this.#serializer.stringify(session)
    } catch (error) {
      throw new RedkitError(ErrorCodes.E_ENCODE, `session ${idHash(sid)} cannot be serialized: ${(error as Error).message}`, {
        cause: error,
      })
    }
    if (typeof text !== 'string') throw new RedkitError(ErrorCodes.E_ENCODE, 'the serializer did not return a string')
    const bytes = Buffer.byteLength(text)
    if (bytes > this.#maxDataBytes)
      throw new RedkitError(ErrorCodes.E_TOO_LARGE, `session is ${bytes} bytes serialized, above maxDataBytes ${this.#maxDataBytes}`)
    const key = this.#records.key(sid)
    if (!this.#userIdOf) {
      await this.#rk.connection.send(['SET', key, text, 'PX', String(ttl)], { key })
      return
    }
    // The index entry goes first: a session is never live without it, so revoke-all finds it.
    const user = this.#ownerOf(session as StoredSessionData)
    if (user !== '') await this.#records.indexAdd(user, sid, 0, false)
    const old = await this.#rk.connection.send<string | null>(['SET', key, text, 'PX', String(ttl), 'GET'], { key })
    const previous = old === null ? '' : this.#ownerIn(old)
    if (previous === user) return
    // A login (or logout) inside the session: leave the previous owner's index, and drop the new
    // owner's entries of sessions that ended since.
    await Promise.all([
      previous === '' ? undefined : this.#records.indexRemove(previous, [sid]),
      user === '' ? undefined : this.#records.indexAdd(user, sid, 0),
    ])
  }

  /** The owner of a session ('' for none), validated. */
  #ownerOf(session: StoredSessionData): string {
    const raw = this.#userIdOf?.(session)
    return raw === undefined || raw === null ? '' : validateUserId(raw)
  }

  /** The owner recorded in stored text; '' when it cannot be read (its index entry is pruned later). */
  #ownerIn(text: string): string {
    try {
      return this.#ownerOf(this.#serializer.parse(text))
    } catch {
      return ''
    }
  }

  async #touch(sid: string, session: FrameworkSession): Promise<void> {
    if (this.#disableTouch || !this.#isId(sid)) return
    const key = this.#records.key(sid)
    await this.#rk.connection.send(['PEXPIRE', key, String(Math.max(1, this.#ttlOf(session)))], { key })
  }

  async #ids(): Promise<string[]> {
    const ids: string[] = []
    await this.#records.scan(async (batch) => {
      ids.push(...batch)
    })
    return ids
  }

  async #all(): Promise<Array<StoredSessionData & { id: string }>> {
    const sessions: Array<StoredSessionData & { id: string }> = []
    await this.#records.scan(async (batch) => {
      const found = await Promise.all(batch.map((id) => this.#get(id)))
      found.forEach((session, i) => {
        if (session) sessions.push({ ...session, id: batch[i] as string })
      })
    })
    return sessions
  }

  async #clear(): Promise<void> {
    await this.#records.scan(async (batch) => {
      await Promise.all(batch.map((id) => this.#records.destroy(id)))
    })
  }

  /** The session's TTL: its cookie's expiry when it has one, else ttlMs. */
  #ttlOf(session: FrameworkSession): number {
    if (session === null || typeof session !== 'object') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'session must be an object')
    const cookie = session.cookie
    if (cookie?.expires) {
      const at = new Date(cookie.expires).getTime()
      if (Number.isFinite(at)) return Math.ceil(at - Date.now())
    }
    if (typeof cookie?.maxAge === 'number' && Number.isFinite(cookie.maxAge)) return Math.ceil(cookie.maxAge)
    return this.#ttlMs
  }

  #isId(sid: unknown): sid is string {
    return typeof sid === 'string' && SessionRecords.isId(sid)
  }

  #requireId(sid: unknown): asserts sid is string {
    if (!this.#isId(sid))
      throw new RedkitError(
        ErrorCodes.E_INVALID_KEY,
        'session id must be 1 to 256 characters of [A-Za-z0-9_-] (what uid-safe and crypto ids produce)',
      )
  }

  #expressSession(): ExpressSessionModule {
    if (this.#express) return this.#express
    try {
      this.#express = createRequire(import.meta.url)('express-session') as ExpressSessionModule
      return this.#express
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
}

/** Runs a store operation for both calling styles: node callback, or the returned promise. */
function settle<T>(work: Promise<T>, callback: StoreCallback<T> | undefined, onThrow: (error: unknown) => void): Promise<T> {
  if (!callback) return work
  // With a callback the error goes there only: the promise the framework ignores must not reject.
  // A callback that throws must not become an unhandled rejection (it would take the process down):
  // its error is reported instead.
  const call = (error: Error | null, result?: T) => {
    try {
      callback(error, result)
    } catch (thrown) {
      onThrow(thrown)
    }
  }
  work.then(
    (result) => call(null, result),
    (error: Error) => call(error),
  )
  return work.catch(() => undefined as T)
}
