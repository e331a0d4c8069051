import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'
import { validateUserId } from './records.js'
import { idHash } from './security.js'
import { type FrameworkSession, type ResolvedStoreOptions, type StoredSessionData, userIdText } from './store-options.js'

/** A tombstone outlives the longest request still in flight, however short its session's TTL was. */
export const TOMBSTONE_LEAST_MS = 60_000

/**
 * What the framework store decides from its options alone, without Redis: a session's TTL, its
 * text, its owner, how long its tombstone and its user's index live.
 */
export class StoreRules {
  readonly #o: ResolvedStoreOptions

  constructor(options: ResolvedStoreOptions) {
    this.#o = options
  }

  /** How long the tombstone of a session without a TTL lasts: as long as a session could. */
  tombstoneMs(): number {
    const { absoluteTimeoutMs, ttlMs } = this.#o
    if (absoluteTimeoutMs > 0) return absoluteTimeoutMs
    return Math.max(TOMBSTONE_LEAST_MS, typeof ttlMs === 'number' ? ttlMs : 86_400_000)
  }

  /** When a user's index may expire after a save with this TTL (0: never, for sessions without TTL). */
  indexDeadline(ttl: number): number {
    if (ttl === 0) return this.#o.absoluteTimeoutMs > 0 ? Date.now() + this.#o.absoluteTimeoutMs : 0
    // Slack for the clocks of this process and the server, which set the session's own TTL.
    return Date.now() + ttl + 60_000
  }

  serialize(sid: string, session: FrameworkSession): string {
    let text: string
    try {
      text = this.#o.serializer.stringify(session)
    } catch (error) {
      throw new RedkitError(ErrorCodes.E_ENCODE, `session ${idHash(sid)} cannot be serialized: ${(error as Error).message}`, {
        cause: error,
      })
    }
    if (typeof text !== 'string') throw new RedkitError(ErrorCodes.E_ENCODE, 'the serializer did not return a string')
    // UTF-8 takes at most 3 bytes per UTF-16 unit: most sessions need no byte count.
    const bytes = text.length * 3 <= this.#o.maxDataBytes ? 0 : Buffer.byteLength(text)
    if (bytes > this.#o.maxDataBytes)
      throw new RedkitError(ErrorCodes.E_TOO_LARGE, `session is ${bytes} bytes serialized, above maxDataBytes ${this.#o.maxDataBytes}`)
    return text
  }

  /** The owner of a session ('' for none), validated. */
  ownerOf(session: StoredSessionData): string {
    const raw = userIdText(this.#o.userIdOf?.(session))
    return raw === undefined ? '' : validateUserId(raw)
  }

  /** The owner recorded in stored text; '' when it cannot be read (its index entry is pruned later). */
  ownerIn(text: string): string {
    try {
      return this.ownerOf(this.#o.serializer.parse(text))
    } catch {
      return ''
    }
  }

  /** The session's TTL in ms: 0 for none (disableTTL), negative when its cookie has expired. */
  ttlOf(session: FrameworkSession): number {
    if (session === null || typeof session !== 'object') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'session must be an object')
    if (this.#o.disableTTL) return 0
    const { ttlMs } = this.#o
    if (typeof ttlMs === 'function') {
      const ttl = ttlMs(session as StoredSessionData)
      if (typeof ttl !== 'number' || !Number.isFinite(ttl))
        throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `the ttlMs function returned ${describeValue(ttl)}, not a number of ms`)
      return ttl <= 0 ? -1 : Math.ceil(ttl)
    }
    const cookie = session.cookie
    let ttl = ttlMs
    if (cookie?.expires) {
      const { expires } = cookie
      // Date.parse reads a string as new Date() does, without allocating a Date.
      const at = typeof expires === 'string' ? Date.parse(expires) : new Date(expires as Date).getTime()
      if (Number.isFinite(at)) ttl = Math.ceil(at - Date.now())
    } else if (typeof cookie?.maxAge === 'number' && Number.isFinite(cookie.maxAge)) ttl = Math.ceil(cookie.maxAge)
    return ttl <= 0 ? -1 : ttl
  }
}
