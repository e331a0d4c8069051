import type { RedkitError } from '../core/errors.js'
import type { ExpiryHandler, SubscribeOptions } from '../events/index.js'
import type { ClientContext, FingerprintOption } from './security.js'

export interface SessionOptions {
  /** Sessions of different names are separate (one per application, say). No '{' or '}'. @defaultValue 'default' */
  name?: string
  /** A session not used for this long ends. `false`: no idle timeout (then `absoluteTimeoutMs` is required). @defaultValue 1_800_000 (30 min) */
  idleTimeoutMs?: number | false
  /** A session ends this long after it was created, however active. `false`: none. @defaultValue 86_400_000 (24 h) */
  absoluteTimeoutMs?: number | false
  /**
   * Sign session tokens with HMAC-SHA256 (`<id>.<mac>`); a list rotates secrets: the first signs,
   * every one verifies. Each at least 16 characters.
   */
  secret?: string | readonly string[]
  /** Bind each session to its client (hash of the user agent, optionally the ip); a token used from elsewhere is refused. @defaultValue false */
  fingerprint?: FingerprintOption
  /** Largest encoded data, in bytes. @defaultValue 65_536 */
  maxDataBytes?: number
  /**
   * Track each session's expiry through reliable expirations (`rk.expirations`): `onExpired` then
   * reports every expiry once per group, and user indexes are cleaned as sessions expire.
   * @defaultValue false
   */
  trackExpiry?: boolean
}

/** A live session. */
export interface Session<D = unknown> {
  /** The raw id (the key in Redis). */
  id: string
  /** What the client holds (cookie, header): the signed id when a secret is set, otherwise the id. */
  token: string
  userId: string | undefined
  data: D
  createdAt: number
  lastAccessAt: number
  /** When it ends unless used again (epoch ms, server clock). */
  expiresAt: number
  /** When it ends however active; undefined when there is no absolute timeout. */
  absoluteExpiresAt: number | undefined
  /** The synchronizer token to embed in forms; check it with `verifyCsrf`. */
  csrfToken: string
  ip: string | undefined
  userAgent: string | undefined
}

/**
 * A session as listed for its user: no data and no secrets. `handle` names it for
 * `destroyByHandle` (a one-way hash: the id itself is a bearer token and is never listed).
 */
export type SessionInfo = Omit<Session<never>, 'id' | 'data' | 'token' | 'csrfToken'> & { handle: string }

export interface GetSessionOptions extends ClientContext {
  /** Record the access and slide the idle timeout. @defaultValue true */
  touch?: boolean
}

export interface ExpiredSession {
  /** Stable id of this expiry (the same on every redelivery). */
  eventId: string
  id: string
  userId: string | undefined
  /** When it was due to end (server clock). */
  expiredAt: number | undefined
  attempt: number
}

export type ExpiredSessionHandler = (event: ExpiredSession) => unknown | Promise<unknown>

export type OnExpiredOptions = Pick<SubscribeOptions, 'group' | 'attempts' | 'backoff' | 'concurrency' | 'from'>

export interface SessionEvents {
  /**
   * A token was refused. `session` is a short hash of the id (for correlating log lines; the id
   * itself is a bearer secret and is never emitted).
   */
  rejected: [{ reason: 'signature' | 'shape' | 'fingerprint'; session?: string }]
  /** A background failure (index cleanup on expiry). */
  error: [RedkitError | Error]
}

export type { ClientContext, ExpiryHandler }
