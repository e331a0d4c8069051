import { backoffDelay, sleep, validateCount, validateMs } from '../core/backoff.js'
import { EmitterComponent } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { optionsObject } from '../core/validate.js'
import type { Expirations, Subscription } from '../events/index.js'
import { SessionKeySpace } from './keys.js'
import { SessionRecords, type StoredSession, validateUserId } from './records.js'
import { createScript, updateScript } from './scripts.js'
import {
  type ClientContext,
  fingerprintOf,
  IdSigner,
  idHash,
  newCsrfToken,
  newSessionId,
  safeEqual,
  sessionHandle,
  validateClientContext,
} from './security.js'
import { warnIfEvictable } from './server-check.js'
import type {
  ExpiredSessionHandler,
  GetSessionOptions,
  OnExpiredOptions,
  Session,
  SessionEvents,
  SessionInfo,
  SessionOptions,
} from './types.js'
import { CREATE_PAST_DEADLINE, FINGERPRINT_MISMATCH } from './wire.js'

let sessionsOfManager: <D>(manager: SessionManager<D>, userId: string) => Promise<Array<{ info: SessionInfo; session: Session<D> }>>

/**
 * A user's live sessions with their data and tokens, for single sign-on (src/session/sso.ts).
 * Not exported by the package: listings for users go through `listForUser`, which shows handles only.
 */
export function sessionsWithData<D>(
  manager: SessionManager<D>,
  userId: string,
): Promise<Array<{ info: SessionInfo; session: Session<D> }>> {
  return sessionsOfManager(manager, userId)
}

/**
 * Login sessions: created for a user, read (and kept alive) by token, bound to their client when
 * asked, listed and revoked per user, ended by idle and absolute timeouts.
 *
 * Reads are one `HMGET` (the fingerprint is checked against the stored hash); about once a second
 * per session, a script also records the access and slides the idle timeout, never past the
 * absolute deadline. Redis expires the session itself, so nothing has to run for sessions to end.
 */
export class SessionManager<D = unknown> extends EmitterComponent<SessionEvents> {
  readonly #rk: RedkitContext
  readonly #records: SessionRecords
  readonly #idleMs: number
  readonly #absoluteMs: number
  readonly #signer: IdSigner | undefined
  readonly #fingerprint: SessionOptions['fingerprint']
  readonly #maxDataBytes: number
  readonly #touchIntervalMs: number
  readonly #expirations: Expirations | undefined
  #stopCleanup: (() => Promise<void>) | undefined

  constructor(rk: RedkitContext, options: SessionOptions = {}, expirations?: () => Expirations) {
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'session options must be an object')
    super({ name: SessionKeySpace.validName(options.name ?? 'default'), kind: 'sessions', host: rk })
    try {
      this.#rk = rk
      this.#idleMs = options.idleTimeoutMs === false ? 0 : validateMs(options.idleTimeoutMs ?? 1_800_000, 'idleTimeoutMs')
      this.#absoluteMs = options.absoluteTimeoutMs === false ? 0 : validateMs(options.absoluteTimeoutMs ?? 86_400_000, 'absoluteTimeoutMs')
      if (this.#idleMs === 0 && this.#absoluteMs === 0)
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'a session needs an idle or an absolute timeout (both are false)')
      this.#signer = options.secret === undefined ? undefined : new IdSigner(options.secret)
      this.#fingerprint = options.fingerprint
      fingerprintOf(this.#fingerprint, {}) // rejects an invalid option now, not at the first login
      this.#maxDataBytes = validateCount(options.maxDataBytes ?? 65_536, 'maxDataBytes')
      // Accesses are recorded at most once a second (a tenth of a short idle timeout): a page and its
      // requests cost one write, and the idle timeout stays exact to within that.
      this.#touchIntervalMs = this.#idleMs > 0 ? Math.min(1000, Math.floor(this.#idleMs / 10)) : 1000
      if (options.trackExpiry) {
        if (!expirations) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'trackExpiry needs rk.expirations')
        this.#expirations = expirations()
      }
      const tracked = this.#expirations
      this.#records = new SessionRecords(rk, options.name ?? 'default', {
        ownerOf: ({ session }) => rk.connection.send<string | null>(['HGET', session, 'u'], { key: session }),
        // A tracked session is deleted with its expiry event cancelled: a logout is not an expiry.
        remove: tracked
          ? ({ session }) => tracked.delete(session)
          : ({ session }) => rk.connection.send(['UNLINK', session], { key: session }),
      })
    } catch (error) {
      this.abandon()
      throw error
    }
    warnIfEvictable(rk)
    if (this.#expirations) this.#startIndexCleanup(this.#expirations)
  }

  /**
   * Starts a session. `userId` undefined makes an anonymous session (not indexed).
   * @throws RedkitError E_ENCODE (data the codec cannot store), E_TOO_LARGE, E_INVALID_ARGUMENT / E_INVALID_KEY (bad user id)
   */
  async create(userId: string | undefined, data: D, context: ClientContext = {}): Promise<Session<D>> {
    this.assertOpen()
    context = validateClientContext(context)
    const user = userId === undefined ? undefined : validateUserId(userId)
    const encoded = this.#encode(data)
    const absoluteAt = this.#absoluteMs > 0 ? Date.now() + this.#absoluteMs : 0
    const session = await this.#insert({ userId: user, encoded, data, absoluteAt, createdAt: 0, csrf: newCsrfToken() }, context)
    return session as Session<D>
  }

  /**
   * The session behind a token, or undefined when it is unknown, expired, wrongly signed, or bound
   * to another client (a `rejected` event says which). Touches it unless `touch: false`.
   */
  async get(token: string, options: GetSessionOptions = {}): Promise<Session<D> | undefined> {
    this.assertOpen()
    options = validateClientContext(options, 'options')
    const id = this.#idOf(token)
    if (id === undefined) return undefined
    const stored = await this.#records.read(id, this.#fingerprintOf(options), options.touch ?? true, this.#touchIntervalMs)
    if (stored === 'mismatch') return this.#reject('fingerprint', id)
    return stored && this.#session(id, stored)
  }

  /** Records an access and slides the idle timeout. @returns false when the session is gone or bound to another client */
  async touch(token: string, context: ClientContext = {}): Promise<boolean> {
    this.assertOpen()
    context = validateClientContext(context)
    const id = this.#idOf(token)
    if (id === undefined) return false
    const outcome = await this.#records.touch(id, this.#touchIntervalMs, this.#fingerprintOf(context))
    if (outcome === 'mismatch') this.#reject('fingerprint', id)
    return outcome === 'ok'
  }

  /** Replaces a live session's data (timeouts unchanged). @returns false when the session is gone or bound to another client */
  async update(token: string, data: D, context: ClientContext = {}): Promise<boolean> {
    this.assertOpen()
    context = validateClientContext(context)
    const encoded = this.#encode(data)
    const id = this.#idOf(token)
    if (id === undefined) return false
    const reply = await updateScript.call(this.#rk.connection, this.#records.keys.of(id), [encoded, this.#fingerprintOf(context)])
    if (reply === FINGERPRINT_MISMATCH) this.#reject('fingerprint', id)
    return reply === 1
  }

  /** Ends a session (logout). @returns false when it did not exist */
  async destroy(token: string): Promise<boolean> {
    this.assertOpen()
    const id = this.#idOf(token)
    return id !== undefined && this.#records.destroy(id)
  }

  /**
   * Replaces the session's id (after login or a privilege change, against session fixation): same
   * user, data, creation time and absolute deadline; a new id and CSRF token; the old id ends.
   * The old session is taken in one step, so of two rotations at once only one succeeds, and only
   * from the client the session is bound to. A revoke-all of the user that begins before the new
   * session is in place ends it (the user's revocation epoch is checked after the write), so
   * rotating again and again does not survive "log out everywhere".
   * @returns the new session, or undefined when the old one is gone (or bound to another client)
   */
  async rotate(token: string, context: ClientContext = {}): Promise<Session<D> | undefined> {
    this.assertOpen()
    context = validateClientContext(context)
    const id = this.#idOf(token)
    if (id === undefined) return undefined
    const old = await this.#records.take(id, this.#fingerprintOf(context))
    if (old === 'mismatch') return this.#reject('fingerprint', id)
    if (old === undefined) return undefined
    // The old key is gone: cancel its tracked expiry (a rotation is not an expiry).
    await this.#expirations?.delete(this.#records.key(id))
    const client = { ip: context.ip ?? old.ip, userAgent: context.userAgent ?? old.userAgent }
    return this.#insert(
      { userId: old.userId, encoded: old.data, absoluteAt: old.absoluteExpiresAt, createdAt: old.createdAt, csrf: newCsrfToken() },
      client,
      { oldId: id, epoch: old.epoch },
    )
  }

  /** A user's live sessions, most recently used first (for a "your devices" page). */
  async listForUser(userId: string): Promise<SessionInfo[]> {
    return (await this.#sessionsOf(userId, false)).map(({ info }) => info)
  }

  static {
    sessionsOfManager = (manager, userId) => manager.#sessionsOf(userId, true)
  }

  /**
   * A user's live sessions, most recently used first, each listed (`info`) and in full (`session`,
   * with its data and token when `decode`). Not public: tokens are bearer secrets; single sign-on
   * reads it through `sessionsWithData` to find which login each app session belongs to.
   */
  async #sessionsOf(userId: string, decode: boolean): Promise<Array<{ info: SessionInfo; session: Session<D> }>> {
    const user = validateUserId(userId)
    const sessions = await this.#records.list(user, async (id) => {
      const stored = await this.#records.read(id, '*', false)
      return stored !== undefined && stored !== 'mismatch' && stored.userId === user ? stored : undefined
    })
    return sessions
      .map(({ id, session: stored }) => {
        const session = this.#session(id, stored, decode)
        const { id: _id, data: _data, token: _token, csrfToken: _csrf, ...info } = session
        return { info: { handle: sessionHandle(id), ...info }, session }
      })
      .sort((a, b) => b.info.lastAccessAt - a.info.lastAccessAt)
  }

  /** The handle `listForUser` shows for the session behind a token (to mark "this device"); undefined for a token that cannot be one. */
  handleOf(token: string): string | undefined {
    const id = this.#idOf(token)
    return id === undefined ? undefined : sessionHandle(id)
  }

  /**
   * Ends one of a user's sessions by the handle `listForUser` showed (a user revoking one device).
   * @returns false when no live session of that user has the handle
   * @throws RedkitError E_INVALID_ARGUMENT for a value that is not a handle
   */
  async destroyByHandle(userId: string, handle: string): Promise<boolean> {
    return this.#records.destroyByHandle(validateUserId(userId), handle)
  }

  /**
   * Logs a user out everywhere (or everywhere but `except`, a token of the current session).
   * @returns how many sessions ended
   * @throws RedkitError E_INVALID_ARGUMENT when `except` is not a valid token (rather than ending the current session too)
   */
  async destroyAllForUser(userId: string, options: { except?: string } = {}): Promise<number> {
    this.assertOpen()
    options = optionsObject(options)
    const user = validateUserId(userId)
    let except: string | undefined
    if (options.except !== undefined) {
      except = this.#idOf(options.except)
      if (except === undefined) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'except is not a valid session token')
    }
    return this.#records.destroyAll(user, except)
  }

  /** Checks a submitted CSRF token against the session's, in constant time. */
  verifyCsrf(session: Pick<Session, 'csrfToken'>, token: unknown): boolean {
    const expected = session?.csrfToken
    return typeof token === 'string' && typeof expected === 'string' && expected.length > 0 && safeEqual(expected, token)
  }

  /**
   * Calls `handler` once per group for every session that expires (idle or absolute), even when
   * the group was offline at the time; sessions ended by `destroy` or `rotate` do not count.
   * Needs `trackExpiry`.
   */
  async onExpired(handler: ExpiredSessionHandler, options: OnExpiredOptions = {}): Promise<Subscription> {
    const expirations = this.#expirations
    if (!expirations) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `sessions ${this.name} were created without trackExpiry`)
    return expirations.on<string | null>(
      this.#records.pattern,
      (event) =>
        handler({
          eventId: event.id,
          id: this.#records.idOf(event.key) ?? event.key,
          userId: event.value ?? undefined,
          expiredAt: event.deadline,
          attempt: event.attempt,
        }),
      { ...options, withValue: true },
    )
  }

  /**
   * Writes a new session: its user's index entry first (so revoke-all always finds a live session),
   * then the session, then its expiry tracking. A rotation (`rotated`) carries its old session's
   * revocation epoch: when the user's epoch has moved on (a revoke-all began since the old session
   * was issued), the new session is not kept, and undefined is returned.
   */
  async #insert(
    fields: { userId: string | undefined; encoded: string; data?: D; absoluteAt: number; createdAt: number; csrf: string },
    context: ClientContext,
    rotated?: { oldId: string; epoch: number },
  ): Promise<Session<D> | undefined> {
    const { userId, encoded, absoluteAt, csrf } = fields
    const fingerprint = fingerprintOf(this.#fingerprint, context)
    for (let tries = 0; ; tries++) {
      const id = newSessionId()
      const keys = this.#records.keys.of(id)
      let epoch = 0
      if (userId !== undefined) {
        epoch = await this.#records.indexAdd(userId, id, absoluteAt, rotated === undefined)
        if (rotated !== undefined && epoch !== rotated.epoch) {
          await this.#records.indexRemove(userId, [id, rotated.oldId])
          return undefined
        }
      }
      const reply = await createScript.call(this.#rk.connection, keys, [
        encoded,
        userId ?? '',
        this.#idleMs,
        absoluteAt,
        fingerprint,
        csrf,
        context.ip ?? '',
        context.userAgent ?? '',
        fields.createdAt,
        epoch,
      ])
      if (typeof reply === 'number') {
        if (userId !== undefined) await this.#records.indexRemove(userId, [id])
        if (reply === CREATE_PAST_DEADLINE) {
          if (rotated !== undefined && userId !== undefined) await this.#records.indexRemove(userId, [rotated.oldId])
          throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'the session has passed its absolute deadline')
        }
        // 256 random bits never collide in practice; the check keeps a broken random source from reusing a session.
        if (tries < 3) continue
        throw new RedkitError(ErrorCodes.E_REDIS, 'could not find a free session id')
      }
      const [created, now, expires] = reply.map(Number) as [number, number, number]
      if (rotated !== undefined && userId !== undefined && (await this.#records.indexCheck(userId, rotated.oldId)) !== rotated.epoch) {
        // A revoke-all began while the new session was being written: it may not have seen it.
        await this.#records.destroy(id)
        return undefined
      }
      await this.#expirations?.track(keys.session, { value: userId ?? null })
      return {
        id,
        token: this.#signer ? this.#signer.sign(id) : id,
        userId,
        data: fields.data === undefined ? (this.#rk.codec.decode(encoded) as D) : fields.data,
        createdAt: created,
        lastAccessAt: now,
        expiresAt: expires,
        absoluteExpiresAt: absoluteAt === 0 ? undefined : absoluteAt,
        csrfToken: csrf,
        ip: context.ip || undefined,
        userAgent: context.userAgent || undefined,
      }
    }
  }

  #fingerprintOf(context: ClientContext): string {
    return this.#fingerprint ? fingerprintOf(this.#fingerprint, context) : '*'
  }

  /** Reports a refused token by a short hash of its id: the id itself is a bearer secret. */
  #reject(reason: 'signature' | 'shape' | 'fingerprint', id?: string): undefined {
    this.emit('rejected', id === undefined ? { reason } : { reason, session: idHash(id) })
    return undefined
  }

  #session(id: string, stored: StoredSession, decode = true): Session<D> {
    return {
      id,
      token: this.#signer ? this.#signer.sign(id) : id,
      userId: stored.userId,
      data: (decode ? this.#rk.codec.decode(stored.data) : undefined) as D,
      createdAt: stored.createdAt,
      lastAccessAt: stored.lastAccessAt,
      expiresAt: stored.expiresAt,
      absoluteExpiresAt: stored.absoluteExpiresAt === 0 ? undefined : stored.absoluteExpiresAt,
      csrfToken: stored.csrfToken,
      ip: stored.ip,
      userAgent: stored.userAgent,
    }
  }

  #encode(data: D): string {
    const encoded = this.#rk.codec.encode(data)
    const bytes = Buffer.byteLength(encoded)
    if (bytes > this.#maxDataBytes)
      throw new RedkitError(ErrorCodes.E_TOO_LARGE, `session data is ${bytes} bytes encoded, above maxDataBytes ${this.#maxDataBytes}`)
    return encoded
  }

  /** The id inside a client's token; undefined (and a `rejected` event) for anything that cannot be one. */
  #idOf(token: string): string | undefined {
    if (typeof token !== 'string')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `session token must be a string, got ${typeof token}`)
    const id = this.#signer ? this.#signer.unsign(token) : token
    if (id === undefined) return this.#reject('signature')
    if (!SessionRecords.isId(id)) return this.#reject('shape')
    return id
  }

  /**
   * Drops each expired session from its user's index, once across all processes (one consumer
   * group). Subscribing is retried with backoff until it succeeds (Redis may be down at start).
   */
  #startIndexCleanup(expirations: Expirations): void {
    const stop = new AbortController()
    let subscription: Subscription | undefined
    const subscribe = async (): Promise<void> => {
      for (let failures = 0; !stop.signal.aborted; failures++) {
        try {
          subscription = await expirations.on<string | null>(
            this.#records.pattern,
            async (event) => {
              const id = this.#records.idOf(event.key)
              if (id !== undefined && typeof event.value === 'string') await this.#records.indexRemove(event.value, [id])
            },
            { group: `redkit-session-index-${this.name}`, withValue: true },
          )
          return
        } catch (error) {
          if (stop.signal.aborted) return
          this.report(error, `sessions ${this.name}: index cleanup`)
          await sleep(backoffDelay(failures + 1, { delayMs: 200, maxDelayMs: 5000 }), stop.signal).catch(() => {})
        }
      }
    }
    const running = subscribe()
    this.#stopCleanup = async () => {
      stop.abort()
      await running
      await subscription?.close()
    }
  }

  protected override async teardown(): Promise<void> {
    await this.#stopCleanup?.()
  }
}
