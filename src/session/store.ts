import { EmitterComponent } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError, thrownText } from '../core/errors.js'
import { optionsObject, count as validCount } from '../core/validate.js'
import type { SessionKeys } from './keys.js'
import { SessionRecords, validateUserId } from './records.js'
import { storeEndScript, storeSetScript, storeTouchScript } from './scripts.js'
import { idHash, sessionHandle } from './security.js'
import { warnIfEvictable } from './server-check.js'
import { checkStoredSession, expressSessionOf, type FrameworkRequest, settle } from './store-framework.js'
import {
  type FrameworkSession,
  type ResolvedStoreOptions,
  resolveStoreOptions,
  type SessionStoreOptions,
  type StoreCallback,
  type StoredSessionData,
  userIdText,
} from './store-options.js'
import { StoreRules, TOMBSTONE_LEAST_MS } from './store-rules.js'

export type { FrameworkSession, SessionStoreOptions, StoreCallback, StoredSessionData }

export interface SessionStoreEvents {
  /** A stored session that could not be parsed, or a callback that threw: the error lands here. */
  error: [RedkitError]
}

/** Set by `regenerate` on the new session: the user and revocation epoch of the session it replaced. */
const LINEAGE = Symbol('redkit.session.lineage')
type Lineage = { user: string; epoch: number }

/**
 * A session store for express-session (pass it as `store`) and @fastify/session: every method takes
 * a callback, or returns a promise without one. Sessions expire by Redis TTL (from the cookie's
 * expiry, else `ttlMs`), never past `absoluteTimeoutMs`; a destroyed session leaves a tombstone so a
 * request still in flight cannot save it back. With `userIdOf`, each user's sessions are indexed so
 * they can be listed (by non-secret handle) and revoked everywhere.
 */
export class RedkitSessionStore extends EmitterComponent<SessionStoreEvents> {
  readonly #rk: RedkitContext
  readonly #records: SessionRecords
  readonly #o: ResolvedStoreOptions
  readonly #rules: StoreRules
  /** Set by express-session on its store: makes a new session on a request. */
  generate?: (req: FrameworkRequest) => void

  constructor(options: SessionStoreOptions) {
    const resolved = resolveStoreOptions(options)
    super({ name: resolved.name, kind: 'session store', host: options.redkit })
    this.#rk = options.redkit
    this.#o = resolved
    this.#rules = new StoreRules(resolved)
    // A framework's session is one string (like connect-redis's): get is one GET, set and touch one
    // script call each. With userIdOf, the owner is read from the data itself.
    this.#records = new SessionRecords(this.#rk, resolved.name, {
      ownerOf: async ({ session }) => {
        const text = await this.#read(session)
        return text === null ? null : this.#o.userIdOf ? this.#rules.ownerIn(text) : ''
      },
      remove: (keys) => this.#end(keys),
      removeMissing: (keys) => this.#end(keys),
    })
    // Every store leaves logout tombstones, user index or not: an evicted one lets a save bring its session back.
    warnIfEvictable(this.#rk)
  }

  /** A callback that threw: reported on `error` (or as a process warning), never an unhandled rejection. */
  readonly #onThrow = (thrown: unknown): void => {
    const error = new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `a session store callback threw: ${thrownText(thrown)}`, {
      cause: thrown,
    })
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else process.emitWarning(error.message, { code: error.code })
  }

  #settle<T>(work: Promise<T>, callback: StoreCallback<T> | undefined): Promise<T> {
    return callback ? settle(work, callback, this.#onThrow) : work
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

  /** Ends a session; a save still in flight for it is refused afterwards (tombstone). */
  destroy(sid: string, callback?: StoreCallback): Promise<void> {
    return this.#settle(
      (async () => {
        if (this.#isId(sid)) await this.#records.destroy(sid)
      })(),
      callback,
    )
  }

  /** Every session of this store, each with its `id` (all in memory: see `pages` for large stores). */
  all<S = StoredSessionData>(callback?: StoreCallback<Array<S & { id: string }>>): Promise<Array<S & { id: string }>> {
    return this.#settle(
      (async () => {
        const sessions: Array<S & { id: string }> = []
        for await (const page of this.pages<S>()) sessions.push(...page)
        return sessions
      })(),
      callback,
    )
  }

  ids(callback?: StoreCallback<string[]>): Promise<string[]> {
    return this.#settle(
      (async () => {
        const ids: string[] = []
        for await (const page of this.idPages()) ids.push(...page)
        return ids
      })(),
      callback,
    )
  }

  length(callback?: StoreCallback<number>): Promise<number> {
    return this.#settle(
      (async () => {
        let n = 0
        for await (const page of this.idPages()) n += page.length
        return n
      })(),
      callback,
    )
  }

  /** The session ids a page at a time (SCAN with `count`, every master): a million sessions are never held at once. */
  async *idPages(options: { count?: number } = {}): AsyncGenerator<string[]> {
    const { count: given } = optionsObject(options)
    const count = given === undefined ? this.#o.scanCount : validCount(given, 'count')
    for await (const ids of this.#records.scanPages(count, 'string')) yield ids
  }

  /** The sessions a page at a time, each with its `id` (see `idPages`). */
  async *pages<S = StoredSessionData>(options: { count?: number } = {}): AsyncGenerator<Array<S & { id: string }>> {
    for await (const ids of this.idPages(optionsObject(options))) {
      const found = await Promise.all(ids.map((id) => this.#get(id)))
      const page: Array<S & { id: string }> = []
      found.forEach((session, i) => {
        if (session) page.push({ ...(session as S), id: ids[i] as string })
      })
      if (page.length > 0) yield page
    }
  }

  /** Deletes every session of this store, with their entries in the user indexes, on every master. */
  clear(callback?: StoreCallback): Promise<void> {
    return this.#settle(
      (async () => {
        for await (const ids of this.idPages()) await Promise.all(ids.map((id) => this.#records.destroy(id)))
      })(),
      callback,
    )
  }

  /** A user's live sessions (needs `userIdOf`), each named by a non-secret handle for `destroyByHandle`. */
  async listForUser<S = StoredSessionData>(userId: string | number): Promise<Array<{ handle: string; session: S }>> {
    const user = validateUserId(userIdText(userId))
    const live = await this.#records.list(user, async (id) => {
      const session = await this.#get(id)
      return session !== null && this.#rules.ownerOf(session) === user ? session : undefined
    })
    return live.map(({ id, session }) => ({ handle: sessionHandle(id), session: session as S }))
  }

  /** The handle `listForUser` shows for a session id (to mark "this device"). */
  handleOf(sid: string): string | undefined {
    return this.#isId(sid) ? sessionHandle(sid) : undefined
  }

  /** Ends one of a user's sessions by its handle (a user revoking one device). @returns false when there is none */
  destroyByHandle(userId: string | number, handle: string): Promise<boolean> {
    return this.#records.destroyByHandle(validateUserId(userIdText(userId)), handle)
  }

  /** Logs a user out everywhere, or everywhere but the session `except`. @returns how many ended */
  destroyAllForUser(userId: string | number, options: { except?: string } = {}): Promise<number> {
    return this.#records.destroyAll(validateUserId(userIdText(userId)), optionsObject(options).except)
  }

  // What express-session's own Store base class provides: its middleware calls these.

  /**
   * express-session: replaces the request's session with a new one (on `req.session.regenerate`).
   * Refused when the old session was already destroyed (logged out or revoked while this request
   * was in flight): otherwise the data a handler copies over would bring it back under a new id.
   */
  regenerate(req: FrameworkRequest, callback: (error?: Error) => unknown): void {
    const sid = req.sessionID ?? ''
    const work = (async () => {
      if (!this.#isId(sid)) return undefined
      const keys = this.#records.keys.of(sid)
      const [text, wasDestroyed] = await storeEndScript.call(this.#rk.connection, keys, [
        this.#rules.tombstoneMs(),
        this.#rules.tombstoneMs(),
      ])
      if (wasDestroyed === 1)
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `session ${idHash(sid)} was destroyed while this request was in flight`)
      const user = text === null || !this.#o.userIdOf ? '' : this.#rules.ownerIn(text)
      if (user === '') return undefined
      const [, epoch] = await Promise.all([this.#records.indexRemove(user, [sid]), this.#records.epoch(user)])
      return { user, epoch }
    })()
    // Through settle like every other method: a callback (or `generate`) that throws is reported,
    // never an unhandled rejection; `generate` throwing fails the regenerate (the callback gets it).
    const replaced = work.then((lineage) => {
      this.generate?.(req)
      if (lineage && req.session && typeof req.session === 'object')
        Object.defineProperty(req.session, LINEAGE, { value: lineage, enumerable: false })
    })
    void this.#settle(replaced, (error) => (error ? callback(error) : callback()))
  }

  /** express-session: loads a session by id into a Session object. */
  load<S = unknown>(sid: string, callback: (error: Error | null | undefined, session?: S) => unknown): void {
    this.get(sid, (error, session) => {
      if (error) return void callback(error)
      if (!session) return void callback(undefined)
      let loaded: S
      try {
        loaded = this.createSession<S>({ sessionID: sid, sessionStore: this }, session)
      } catch (thrown) {
        // Data of the wrong shape is the callback's error (a throw here would never reach it).
        return void callback(thrown as Error)
      }
      callback(null, loaded)
    })
  }

  /** express-session: turns stored data back into its Session and Cookie objects on the request. */
  createSession<S = unknown>(req: FrameworkRequest, data: FrameworkSession): S {
    return expressSessionOf<S>(req, data)
  }

  /** One GET, then the parse: a single promise chain (no async frames on the hot path). */
  #get(sid: string): Promise<StoredSessionData | null> {
    if (!this.#isId(sid)) return Promise.resolve(null)
    const key = this.#records.key(sid)
    const connection = this.#rk.connection
    return connection.sendUnmapped<string | null>(['GET', key], key).then(
      (text) => (text === null ? null : this.#parse(sid, text)),
      (error: unknown) => {
        // A tombstone (a hash in the session's place): the session is destroyed.
        if (isWrongType(error)) return null
        throw connection.mapError(error, 'GET')
      },
    )
  }

  #parse(sid: string, text: string): StoredSessionData | null {
    try {
      const session = this.#o.serializer.parse(text)
      // Not an object, or a cookie of the wrong shape (planted): no framework could use it.
      checkStoredSession(session)
      return session
    } catch (error) {
      // A session that cannot be read is no session: the user signs in again, the store stays up.
      this.report(new RedkitError(ErrorCodes.E_DECODE, `stored session ${idHash(sid)} cannot be parsed`, { cause: error }))
      return null
    }
  }

  /** One GET; null for a session that is missing or destroyed (its tombstone is a hash). */
  async #read(key: string): Promise<string | null> {
    try {
      return await this.#rk.connection.sendUnmapped<string | null>(['GET', key], key)
    } catch (error) {
      if (isWrongType(error)) return null
      throw this.#rk.connection.mapError(error, 'GET')
    }
  }

  /**
   * Writes a session, replying with the text it replaced: a plain `SET ... GET` (one command, as
   * connect-redis's `SET`), which a tombstone (a hash) refuses as the wrong type, writing nothing.
   * With an absolute timeout, a script caps the TTL. @returns 'destroyed' when refused
   */
  async #write(keys: SessionKeys, text: string, ttl: number): Promise<string | null | 'destroyed'> {
    const connection = this.#rk.connection
    const absolute = this.#o.absoluteTimeoutMs
    if (absolute > 0) {
      const reply = await storeSetScript.call(connection, keys, [text, ttl, absolute, TOMBSTONE_LEAST_MS])
      return typeof reply === 'number' ? 'destroyed' : reply
    }
    const command = ttl > 0 ? ['SET', keys.session, text, 'PX', String(ttl), 'GET'] : ['SET', keys.session, text, 'GET']
    try {
      return await connection.sendUnmapped<string | null>(command, keys.session)
    } catch (error) {
      if (isWrongType(error)) return 'destroyed'
      throw connection.mapError(error, 'SET')
    }
  }

  /**
   * A save. Without `userIdOf` or `absoluteTimeoutMs` (the common case, and every request that
   * changes its session) it is the one `SET ... GET` and nothing else: no async frames, no reply
   * read but a tombstone's refusal.
   */
  #set(sid: string, session: FrameworkSession): Promise<void> {
    let ttl: number
    let text: string
    try {
      this.#requireId(sid)
      ttl = this.#rules.ttlOf(session)
      if (ttl < 0) return this.#records.destroy(sid).then(noop)
      text = this.#rules.serialize(sid, session)
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#o.userIdOf || this.#o.absoluteTimeoutMs > 0) return this.#indexedSet(sid, session, text, ttl)
    const key = this.#records.key(sid)
    const connection = this.#rk.connection
    return connection
      .sendUnmapped(ttl > 0 ? ['SET', key, text, 'PX', String(ttl), 'GET'] : ['SET', key, text, 'GET'], key)
      .then(noop, (error: unknown) => {
        // A tombstone (the id was destroyed): refused, nothing written.
        if (!isWrongType(error)) throw connection.mapError(error, 'SET')
      })
  }

  async #indexedSet(sid: string, session: FrameworkSession, text: string, ttl: number): Promise<void> {
    const keys = this.#records.keys.of(sid)
    if (!this.#o.userIdOf) {
      await this.#write(keys, text, ttl)
      return
    }
    // The index entry goes first: a session is never live without it, so revoke-all finds it.
    const user = this.#rules.ownerOf(session as StoredSessionData)
    const deadline = this.#rules.indexDeadline(ttl)
    const epoch = user === '' ? 0 : await this.#records.indexAdd(user, sid, deadline, false)
    const old = await this.#write(keys, text, ttl)
    if (old === 'destroyed') {
      // Destroyed (a save in flight after a logout or revoke-all) or past its absolute deadline.
      if (user !== '') await this.#records.indexRemove(user, [sid])
      return
    }
    const previous = old === null ? '' : this.#rules.ownerIn(old)
    if (previous === user) return
    // A login (or logout) inside the session, or a session regenerated from another: leave the
    // previous owner's index, drop the new owner's entries of sessions that ended since, and read
    // the user's revocation epoch again. A revoke-all that began since this save started (or since
    // the session this one replaced was read) may have missed it: end it.
    const [, now] = await Promise.all([
      previous === '' ? undefined : this.#records.indexRemove(previous, [sid]),
      user === '' ? undefined : this.#records.indexAdd(user, sid, deadline),
    ])
    const lineage = (session as { [LINEAGE]?: Lineage })[LINEAGE]
    const expected = lineage?.user === user ? lineage.epoch : epoch
    if (user !== '' && (now !== epoch || now !== expected)) await this.#records.destroy(sid)
  }

  /**
   * Slides a session's TTL. Without `userIdOf` or `absoluteTimeoutMs` it is one `GETEX ... PX` and
   * nothing else (one promise over the driver's); otherwise the script that caps the TTL at the
   * deadline, and the user's index kept alive alongside.
   */
  #touch(sid: string, session: FrameworkSession): Promise<void> {
    if (this.#o.disableTouch || this.#o.disableTTL || !this.#isId(sid)) return Promise.resolve()
    let ttl: number
    let user: string
    try {
      ttl = Math.max(1, this.#rules.ttlOf(session))
      user = this.#o.userIdOf ? this.#rules.ownerOf(session as StoredSessionData) : ''
    } catch (error) {
      return Promise.reject(error)
    }
    const connection = this.#rk.connection
    if (this.#o.absoluteTimeoutMs === 0 && user === '') return this.#slide(this.#records.key(sid), ttl)
    const keys = this.#records.keys.of(sid)
    return Promise.all([
      this.#o.absoluteTimeoutMs > 0
        ? storeTouchScript.call(connection, keys, [ttl, this.#o.absoluteTimeoutMs, TOMBSTONE_LEAST_MS])
        : this.#slide(keys.session, ttl),
      // The index lives as long as its longest session: a rolling session keeps it alive.
      user === '' ? undefined : this.#records.indexExtend(user, this.#rules.indexDeadline(ttl)),
    ]).then(noop)
  }

  /**
   * Sets a session's TTL: `GETEX`, not connect-redis's `PEXPIRE`, because it only slides a string.
   * A destroyed id's tombstone (a hash) answers WRONGTYPE and keeps its lifetime: a touch in flight
   * after a logout must not shorten it, or a save after that would bring the session back.
   */
  #slide(key: string, ttl: number): Promise<void> {
    const connection = this.#rk.connection
    return connection.sendUnmapped(['GETEX', key, 'PX', String(ttl)], key).then(noop, (error: unknown) => {
      if (!isWrongType(error)) throw connection.mapError(error, 'GETEX')
    })
  }

  /** Ends a session with a tombstone that outlives it. */
  async #end(keys: SessionKeys): Promise<void> {
    await storeEndScript.call(this.#rk.connection, keys, [TOMBSTONE_LEAST_MS, this.#rules.tombstoneMs()])
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
}

function noop(): void {}

/** A command that met a tombstone (a hash where a session string was): the session is destroyed. */
function isWrongType(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++)
    if (/WRONGTYPE/.test(e.message)) return true
  return false
}
