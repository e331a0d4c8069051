import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { byteSize, count, durationMs } from '../core/validate.js'

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
  /**
   * TTL of a session whose cookie has no expiry, in ms; or a function of the session (connect-redis's
   * `ttl`, but in ms) that decides every session's TTL. @defaultValue 86_400_000 (24 h)
   */
  ttlMs?: number | ((session: StoredSessionData) => number)
  /** Sessions get no TTL (connect-redis's `disableTTL`): they end at logout, or at `absoluteTimeoutMs`. @defaultValue false */
  disableTTL?: boolean
  /**
   * A session ends this long after its first save, however active (rolling cookies included), so a
   * stolen cookie does not live for ever. @defaultValue none
   */
  absoluteTimeoutMs?: number
  /**
   * The user a session belongs to, for `listForUser`, `destroyByHandle` and `destroyAllForUser`
   * (revoke everywhere). Return undefined for anonymous sessions. Without it, sessions are not indexed by user.
   */
  userIdOf?: (session: StoredSessionData) => string | number | undefined
  /** How sessions are written. JSON by default, like the frameworks' own stores (class instances become plain objects). */
  serializer?: { stringify(session: FrameworkSession): string; parse(text: string): StoredSessionData }
  /** Largest serialized session, in bytes. @defaultValue 65_536 */
  maxDataBytes?: number
  /** Do not extend the TTL on `touch` (sessions then end at their first TTL unless saved). @defaultValue false */
  disableTouch?: boolean
  /** SCAN's COUNT for `all`, `ids`, `length`, `clear` and the page iterators. @defaultValue 1000 */
  scanCount?: number
}

export interface ResolvedStoreOptions {
  name: string
  ttlMs: number | ((session: StoredSessionData) => number)
  disableTTL: boolean
  absoluteTimeoutMs: number
  userIdOf: ((session: StoredSessionData) => string | number | undefined) | undefined
  serializer: NonNullable<SessionStoreOptions['serializer']>
  maxDataBytes: number
  disableTouch: boolean
  scanCount: number
}

export function resolveStoreOptions(options: SessionStoreOptions): ResolvedStoreOptions {
  if (!options?.redkit?.connection) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'RedkitSessionStore needs { redkit }')
  for (const name of ['userIdOf'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${name} must be a function`)
  }
  const ttl = options.ttlMs ?? 86_400_000
  return {
    name: options.name ?? 'web',
    ttlMs: typeof ttl === 'function' ? ttl : durationMs(ttl, 'ttlMs'),
    disableTTL: flag(options.disableTTL, 'disableTTL'),
    absoluteTimeoutMs: options.absoluteTimeoutMs === undefined ? 0 : durationMs(options.absoluteTimeoutMs, 'absoluteTimeoutMs'),
    userIdOf: options.userIdOf,
    serializer: options.serializer ?? JSON,
    maxDataBytes: byteSize(options.maxDataBytes ?? 65_536, 'maxDataBytes'),
    disableTouch: flag(options.disableTouch, 'disableTouch'),
    scanCount: count(options.scanCount ?? 1000, 'scanCount'),
  }
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${name} must be a boolean`)
  return value
}

/** A user id from `userIdOf`: a string, or a finite number (ids from SQL), as its decimal string. */
export function userIdText(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined
  if (typeof raw === 'number' || typeof raw === 'bigint') {
    if (typeof raw === 'number' && !Number.isFinite(raw))
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `userIdOf returned ${raw}, which names no user`)
    return String(raw)
  }
  return raw as string
}
