import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { escapeGlob, validateName, validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'
import { safeEqual } from './security.js'

export const sessionScripts = {
  create: defineScript<
    [session: string],
    [
      data: string,
      userId: string,
      idleMs: number,
      absoluteAt: number,
      fingerprint: string,
      csrf: string,
      ip: string,
      userAgent: string,
      createdAt: number,
    ],
    number | [number, number, number]
  >('session-create'),
  take: defineScript<[session: string], [fingerprint: string], null | 'mismatch' | Array<string | null>>('session-take'),
  touch: defineScript<[session: string], [touchIntervalMs: number, fingerprint: string], number>('session-touch'),
  update: defineScript<[session: string], [data: string, fingerprint: string], number>('session-update'),
  indexAdd: defineScript<[index: string], [id: string, absoluteAt: number], number>('session-index-add'),
}

/** A session as stored, before its data is decoded. */
export interface StoredSession {
  userId: string | undefined
  data: string
  createdAt: number
  lastAccessAt: number
  idleTimeoutMs: number
  /** 0 when the session has no absolute deadline. */
  absoluteExpiresAt: number
  fingerprint: string
  csrfToken: string
  ip: string | undefined
  userAgent: string | undefined
  expiresAt: number
}

const ID_SHAPE = /^[A-Za-z0-9_-]{1,256}$/

/**
 * An index entry is written before its session, so an entry younger than this whose session is
 * missing may be a login in flight: it is kept, never pruned. Older ones without a session are gone.
 */
const IN_FLIGHT_MS = 10_000

/** The fields of a session hash (see session-create.lua), in the order `parseFields` reads them. */
const FIELDS = ['u', 'd', 'c', 'a', 'i', 'x', 'f', 'k', 'ip', 'ua']

/** How one kind of session record is found and removed (a manager's hash, a framework's string). */
export interface RecordKind {
  /** The session's owner: null when the session does not exist, '' when it has none. */
  ownerOf(key: string): Promise<string | null>
  /** Deletes one session key (the manager also cancels its tracked expiry). */
  remove(key: string): Promise<unknown>
}

/**
 * Where the sessions of one name live, and what the manager and the framework store both do with
 * them: destroy with the owner's index, list and revoke per user, scan.
 *
 * Each session has its own hash tag (`{session:<name>:id:<id>}`) so sessions spread over a Cluster;
 * each user's index is a sorted set under the user's own tag. The two are in different slots, so
 * they are written one after the other: the index entry first, so a session is never live without
 * it (revoke-all always finds it). An entry whose session is gone is dropped when seen (listing,
 * revoking) and at the user's next login.
 */
export class SessionRecords {
  readonly name: string
  readonly #rk: RedkitContext
  readonly #pattern: string
  readonly #head: string
  readonly #kind: RecordKind

  constructor(rk: RedkitContext, name: string, kind: RecordKind) {
    this.#rk = rk
    this.name = validateObjectName(name, 'sessions name')
    // ':' separates the name from the parts after it: without it, no name's keys can match another's.
    if (this.name.includes(':')) throw new RedkitError(ErrorCodes.E_INVALID_KEY, "sessions name must not contain ':'")
    this.#pattern = `${rk.keys.prefix}:{session:${escapeGlob(this.name)}:id:*}:s`
    this.#head = `${rk.keys.key(`session:${this.name}:id:`)}`.slice(0, -1)
    this.#kind = kind
  }

  /** The glob matching every session key of this name (expiry subscriptions, SCAN). */
  get pattern(): string {
    return this.#pattern
  }

  /** Session ids are opaque strings of [A-Za-z0-9_-]: anything else cannot be one (and is not looked up). */
  static isId(id: string): boolean {
    return ID_SHAPE.test(id)
  }

  /** The key of a session id that passed `isId` (nothing left to validate: the hot path). */
  key(id: string): string {
    return `${this.#head}${id}}:s`
  }

  userIndex(userId: string): string {
    return this.#rk.keys.key(`session:${this.name}:user:${validateUserId(userId)}`, 'ids')
  }

  /** The session id inside a session key, or undefined for any other key. */
  idOf(key: string): string | undefined {
    if (!key.startsWith(this.#head) || !key.endsWith('}:s')) return undefined
    const id = key.slice(this.#head.length, -3)
    return SessionRecords.isId(id) ? id : undefined
  }

  /**
   * Reads a session: one `HMGET`. The fingerprint is checked here, against the stored hash. With
   * `touch`, an access recorded more than `touchIntervalMs` ago (by this process's clock, which the
   * script checks again against the server's) is recorded again and slides the idle timeout: a
   * second round trip, at most once per interval per session.
   */
  async read(id: string, fingerprint: string, touch: boolean, touchIntervalMs = 0): Promise<StoredSession | 'mismatch' | undefined> {
    const key = this.key(id)
    const connection = this.#rk.connection
    let reply: Array<string | null>
    try {
      reply = await connection.sendUnmapped<Array<string | null>>(['HMGET', key, ...FIELDS], key)
    } catch (error) {
      throw connection.mapError(error, 'HMGET')
    }
    const stored = parseFields(reply)
    if (stored === undefined) return undefined
    if (fingerprint !== '*' && stored.fingerprint !== '' && !safeEqual(stored.fingerprint, fingerprint)) return 'mismatch'
    if (touch && Date.now() - stored.lastAccessAt >= touchIntervalMs) {
      const at = await sessionScripts.touch.run(connection, [key], [touchIntervalMs, '*'])
      if (at === 0) return undefined
      stored.lastAccessAt = at
      stored.expiresAt = expiryOf(at, stored.idleTimeoutMs, stored.absoluteExpiresAt)
    }
    return stored
  }

  /** Records an access (within the interval: keeps the last one). */
  async touch(id: string, touchIntervalMs: number, fingerprint: string): Promise<'gone' | 'mismatch' | 'ok'> {
    const at = await sessionScripts.touch.run(this.#rk.connection, [this.key(id)], [touchIntervalMs, fingerprint])
    return at === 0 ? 'gone' : at === -1 ? 'mismatch' : 'ok'
  }

  /** Reads and deletes a session in one step (rotation): only one caller gets it. */
  async take(id: string, fingerprint: string): Promise<StoredSession | 'mismatch' | undefined> {
    const reply = await sessionScripts.take.run(this.#rk.connection, [this.key(id)], [fingerprint])
    if (reply === 'mismatch') return 'mismatch'
    return reply ? parseFields(reply) : undefined
  }

  /**
   * Adds a session to its user's index. At a login (`prune`), entries of sessions that ended since
   * are dropped, so an index holds about as many entries as the user has live sessions.
   */
  async indexAdd(userId: string, id: string, absoluteAt: number, prune = true): Promise<void> {
    const size = await sessionScripts.indexAdd.run(this.#rk.connection, [this.userIndex(userId)], [id, absoluteAt])
    if (prune && size > 1) await this.#prune(userId)
  }

  async indexRemove(userId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return
    const index = this.userIndex(userId)
    await this.#rk.connection.send(['ZREM', index, ...ids], { key: index })
  }

  /** Deletes one session and its index entry. @returns false when it did not exist */
  async destroy(id: string): Promise<boolean> {
    const key = this.key(id)
    const owner = await this.#kind.ownerOf(key)
    if (owner === null) return false
    await this.#kind.remove(key)
    if (owner !== '') await this.indexRemove(owner, [id])
    return true
  }

  /** A user's index entries: session id and when it was added (some sessions may have ended since). */
  async #entries(userId: string): Promise<Array<{ id: string; settled: boolean }>> {
    const index = this.userIndex(userId)
    const reply = await this.#rk.connection.send<unknown[]>(['ZRANGE', index, '0', '-1', 'WITHSCORES'], { key: index })
    const settledBefore = Date.now() - IN_FLIGHT_MS
    // RESP2 answers member, score, member, ...; RESP3 answers [member, score] pairs.
    const pairs = reply.every(Array.isArray)
      ? (reply as Array<[unknown, unknown]>)
      : Array.from({ length: reply.length / 2 }, (_, i) => [reply[2 * i], reply[2 * i + 1]] as [unknown, unknown])
    return pairs.map(([id, score]) => ({ id: String(id), settled: Number(score) < settledBefore }))
  }

  /**
   * Loads each session in a user's index; settled entries whose session is gone (or `load` says is
   * not the user's any more) are dropped from the index.
   */
  async list<T>(userId: string, load: (id: string) => Promise<T | undefined>): Promise<Array<{ id: string; session: T }>> {
    const entries = await this.#entries(userId)
    const found = await Promise.all(entries.map((entry) => load(entry.id)))
    const live: Array<{ id: string; session: T }> = []
    const gone: string[] = []
    found.forEach((session, i) => {
      const entry = entries[i] as { id: string; settled: boolean }
      if (session !== undefined) live.push({ id: entry.id, session })
      else if (entry.settled) gone.push(entry.id)
    })
    await this.indexRemove(userId, gone)
    return live
  }

  /**
   * Revokes every session of a user (but `except`): each one still owned by the user is deleted
   * (an entry left behind by an owner change never ends someone else's session).
   * @returns how many sessions ended
   */
  async destroyAll(userId: string, except?: string): Promise<number> {
    const entries = (await this.#entries(userId)).filter((entry) => entry.id !== except)
    let destroyed = 0
    for (let i = 0; i < entries.length; i += 100) {
      const batch = entries.slice(i, i + 100)
      const outcomes = await Promise.all(
        batch.map(async ({ id }) => {
          const key = this.key(id)
          const owner = await this.#kind.ownerOf(key)
          if (owner === null) return 'missing'
          if (owner !== userId) return 'other'
          await this.#kind.remove(key)
          return 'ended'
        }),
      )
      destroyed += outcomes.filter((o) => o === 'ended').length
      // A missing session's entry stays while it may be a login in flight (revoked by the next call).
      await this.indexRemove(
        userId,
        batch.filter((entry, j) => outcomes[j] !== 'missing' || entry.settled).map((entry) => entry.id),
      )
    }
    return destroyed
  }

  /** Calls `visit` with each batch of session ids of this name, over every master. */
  async scan(visit: (ids: string[]) => Promise<void>): Promise<void> {
    for (const node of this.#rk.connection.masters()) {
      let cursor = '0'
      do {
        const [next, keys] = await node.send<[string, string[]]>(['SCAN', cursor, 'MATCH', this.#pattern, 'COUNT', '1000'])
        cursor = String(next)
        const ids = keys.map((key) => this.idOf(key)).filter((id): id is string => id !== undefined)
        if (ids.length > 0) await visit(ids)
      } while (cursor !== '0')
    }
  }

  /** Drops settled index entries whose session key is gone. */
  async #prune(userId: string): Promise<void> {
    const ids = (await this.#entries(userId)).filter((entry) => entry.settled).map((entry) => entry.id)
    const exists = await Promise.all(ids.map((id) => this.#rk.connection.send<number>(['EXISTS', this.key(id)], { key: this.key(id) })))
    await this.indexRemove(
      userId,
      ids.filter((_, i) => exists[i] === 0),
    )
  }
}

/** A session hash's fields (HMGET in FIELDS order), or undefined when it does not exist. */
function parseFields(reply: Array<string | null>): StoredSession | undefined {
  // A field the hash lacks (written by hand, or by an older version) comes back as null.
  const [u, d, c, a, i, x, f, k, ip, ua] = reply
  if (d === null || d === undefined) return undefined
  const lastAccessAt = Number(a ?? 0)
  const idleTimeoutMs = Number(i ?? 0)
  const absoluteExpiresAt = Number(x ?? 0)
  return {
    userId: u || undefined,
    data: d,
    createdAt: Number(c ?? 0),
    lastAccessAt,
    idleTimeoutMs,
    absoluteExpiresAt,
    fingerprint: f ?? '',
    csrfToken: k ?? '',
    ip: ip || undefined,
    userAgent: ua || undefined,
    expiresAt: expiryOf(lastAccessAt, idleTimeoutMs, absoluteExpiresAt),
  }
}

/** Every write of a session sets its TTL to this: the idle deadline, capped by the absolute one (0: none). */
function expiryOf(lastAccessAt: number, idleTimeoutMs: number, absoluteExpiresAt: number): number {
  if (idleTimeoutMs <= 0) return absoluteExpiresAt
  const idle = lastAccessAt + idleTimeoutMs
  return absoluteExpiresAt > 0 && absoluteExpiresAt < idle ? absoluteExpiresAt : idle
}

/** User ids name an index key: non-empty, bounded, no control characters or braces. */
export function validateUserId(userId: unknown): string {
  if (typeof userId !== 'string')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `userId must be a string, got ${userId === null ? 'null' : typeof userId}`)
  return validateObjectName(validateName(userId, 'userId'), 'userId')
}
