import { EventEmitter } from 'node:events'
import { validateCount, validateMs } from '../core/backoff.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import type { Expirations, Subscription } from '../events/index.js'
import { SessionRecords, type StoredSession, sessionScripts, validateUserId } from './records.js'
import { type ClientContext, fingerprintOf, IdSigner, newCsrfToken, newSessionId, safeEqual } from './security.js'
import type {
  ExpiredSessionHandler,
  GetSessionOptions,
  OnExpiredOptions,
  Session,
  SessionEvents,
  SessionInfo,
  SessionOptions,
} from './types.js'

/**
 * Login sessions: created for a user, read (and kept alive) by token, bound to their client when
 * asked, listed and revoked per user, ended by idle and absolute timeouts.
 *
 * Reads are one round trip (a script checks the fingerprint, records the access and slides the
 * idle timeout, never past the absolute deadline); Redis expires the session itself, so nothing
 * has to run for sessions to end.
 */
export class SessionManager<D = unknown> extends EventEmitter<SessionEvents> {
  readonly name: string
  readonly #rk: RedkitContext
  readonly #records: SessionRecords
  readonly #idleMs: number
  readonly #absoluteMs: number
  readonly #signer: IdSigner | undefined
  readonly #fingerprint: SessionOptions['fingerprint']
  readonly #maxDataBytes: number
  readonly #touchIntervalMs: number
  readonly #expirations: Expirations | undefined
  #indexCleanup: Promise<Subscription | undefined> | undefined

  constructor(rk: RedkitContext, options: SessionOptions = {}, expirations?: () => Expirations) {
    super()
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'session options must be an object')
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
      ownerOf: (key) => rk.connection.send<string | null>(['HGET', key, 'u'], { key }),
      // A tracked session is deleted with its expiry event cancelled: a logout is not an expiry.
      remove: tracked ? (key) => tracked.delete(key) : async (key) => (await rk.connection.send<number>(['UNLINK', key], { key })) === 1,
    })
    this.name = this.#records.name
    if (tracked) this.#startIndexCleanup(tracked)
  }

  /**
   * Starts a session. `userId` undefined makes an anonymous session (not indexed).
   * @throws RedkitError E_ENCODE (data the codec cannot store), E_TOO_LARGE, E_INVALID_ARGUMENT / E_INVALID_KEY (bad user id)
   */
  async create(userId: string | undefined, data: D, context: ClientContext = {}): Promise<Session<D>> {
    const user = userId === undefined ? undefined : validateUserId(userId)
    return this.#insert(user, this.#encode(data), data, context, 0, 0)
  }

  /**
   * The session behind a token, or undefined when it is unknown, expired, wrongly signed, or bound
   * to another client (a `rejected` event says which). Touches it unless `touch: false`.
   */
  async get(token: string, options: GetSessionOptions = {}): Promise<Session<D> | undefined> {
    const id = this.#idOf(token)
    if (id === undefined) return undefined
    const fingerprint = this.#fingerprint ? fingerprintOf(this.#fingerprint, options) : '*'
    const stored = await this.#records.read(id, fingerprint, options.touch ?? true, this.#touchIntervalMs)
    if (stored === 'mismatch') {
      this.emit('rejected', { reason: 'fingerprint', id })
      return undefined
    }
    return stored && this.#session(id, stored)
  }

  /** Records an access and slides the idle timeout. @returns false when the session is gone */
  async touch(token: string): Promise<boolean> {
    const id = this.#idOf(token)
    return id !== undefined && (await this.#records.read(id, '*', true, this.#touchIntervalMs)) !== undefined
  }

  /** Replaces a live session's data (timeouts unchanged). @returns false when the session is gone */
  async update(token: string, data: D): Promise<boolean> {
    const encoded = this.#encode(data)
    const id = this.#idOf(token)
    if (id === undefined) return false
    return (await sessionScripts.update.run(this.#rk.connection, [this.#records.key(id)], [encoded])) === 1
  }

  /** Ends a session (logout). @returns false when it did not exist */
  async destroy(token: string): Promise<boolean> {
    const id = this.#idOf(token)
    return id !== undefined && this.#records.destroy(id)
  }

  /**
   * Replaces the session's id (after login or a privilege change, against session fixation): same
   * user, data, creation time and absolute deadline; a new id and CSRF token; the old id ends.
   * @returns the new session, or undefined when the old one is gone
   */
  async rotate(token: string, context: ClientContext = {}): Promise<Session<D> | undefined> {
    const id = this.#idOf(token)
    if (id === undefined) return undefined
    const old = await this.#records.read(id, '*', false)
    if (old === undefined || old === 'mismatch') return undefined
    const client = { ip: context.ip ?? old.ip, userAgent: context.userAgent ?? old.userAgent }
    const next = await this.#insert(old.userId, old.data, undefined, client, old.absoluteExpiresAt, old.createdAt)
    await this.#records.destroy(id)
    return next
  }

  /** A user's live sessions, most recently used first (for a "your devices" page). */
  async listForUser(userId: string): Promise<SessionInfo[]> {
    const user = validateUserId(userId)
    const sessions = await this.#records.list(user, async (id) => {
      const stored = await this.#records.read(id, '*', false)
      return stored !== undefined && stored !== 'mismatch' && stored.userId === user ? stored : undefined
    })
    return sessions
      .map(({ id, session }) => {
        const { data: _data, token: _token, csrfToken: _csrf, ...info } = this.#session(id, session, false)
        return info
      })
      .sort((a, b) => b.lastAccessAt - a.lastAccessAt)
  }

  /**
   * Logs a user out everywhere (or everywhere but `except`, a token of the current session).
   * @returns how many sessions ended
   */
  async destroyAllForUser(userId: string, options: { except?: string } = {}): Promise<number> {
    const except = options.except === undefined ? undefined : this.#idOf(options.except)
    return this.#records.destroyAll(validateUserId(userId), except)
  }

  /** Checks a submitted CSRF token against the session's, in constant time. */
  verifyCsrf(session: Pick<Session, 'csrfToken'>, token: unknown): boolean {
    return typeof token === 'string' && typeof session?.csrfToken === 'string' && safeEqual(session.csrfToken, token)
  }

  /**
   * Calls `handler` once per group for every session that expires (idle or absolute), even when
   * the group was offline at the time; sessions ended by `destroy` do not count. Needs `trackExpiry`.
   */
  onExpired(handler: ExpiredSessionHandler, options: OnExpiredOptions = {}): Promise<Subscription> {
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

  async #insert(
    userId: string | undefined,
    encoded: string,
    data: D | undefined,
    context: ClientContext,
    absoluteAt: number,
    createdAt: number,
  ): Promise<Session<D>> {
    const csrf = newCsrfToken()
    const fingerprint = fingerprintOf(this.#fingerprint, context)
    for (let tries = 0; ; tries++) {
      const id = newSessionId()
      const key = this.#records.key(id)
      const reply = await sessionScripts.create.run(
        this.#rk.connection,
        [key],
        [
          encoded,
          userId ?? '',
          this.#idleMs,
          absoluteAt,
          this.#absoluteMs,
          fingerprint,
          csrf,
          context.ip ?? '',
          context.userAgent ?? '',
          createdAt,
        ],
      )
      if (reply === -2) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'the session has passed its absolute deadline')
      // 256 random bits never collide in practice; the check keeps a broken random source from reusing a session.
      if (reply === -1 || typeof reply === 'number') {
        if (tries < 3) continue
        throw new RedkitError(ErrorCodes.E_REDIS, 'could not find a free session id')
      }
      const [created, absolute, expires] = reply.map(Number) as [number, number, number]
      await Promise.all([
        userId === undefined ? undefined : this.#records.indexAdd(userId, id, absolute),
        this.#expirations?.track(key, { value: userId ?? null }),
      ])
      return {
        id,
        token: this.#signer ? this.#signer.sign(id) : id,
        userId,
        data: data === undefined ? (this.#rk.codec.decode(encoded) as D) : data,
        createdAt: created,
        lastAccessAt: created,
        expiresAt: expires,
        absoluteExpiresAt: absolute === 0 ? undefined : absolute,
        csrfToken: csrf,
        ip: context.ip || undefined,
        userAgent: context.userAgent || undefined,
      }
    }
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
    if (id === undefined) {
      this.emit('rejected', { reason: 'signature' })
      return undefined
    }
    if (!SessionRecords.isId(id)) {
      this.emit('rejected', { reason: 'shape' })
      return undefined
    }
    return id
  }

  /** Drops each expired session from its user's index, once across all processes (one consumer group). */
  #startIndexCleanup(expirations: Expirations): void {
    this.#indexCleanup = expirations
      .on<string | null>(
        this.#records.pattern,
        async (event) => {
          const id = this.#records.idOf(event.key)
          if (id !== undefined && typeof event.value === 'string') await this.#records.indexRemove(event.value, [id])
        },
        { group: `redkit-session-index-${this.name}`, withValue: true },
      )
      .catch((error: unknown) => {
        if (this.listenerCount('error') > 0) this.emit('error', error as Error)
        return undefined
      })
    this.#rk.onClose(async () => {
      await (await this.#indexCleanup)?.close()
    })
  }
}
