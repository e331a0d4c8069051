import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { isSessionId, SessionKeySpace, type SessionKeys, validateUserId } from './keys.js'
import { indexAddScript, indexCheckScript, revokeScript, takeScript, touchScript } from './scripts.js'
import { isHandle, safeEqual, sessionHandle } from './security.js'
import { FIELDS } from './wire.js'

export { validateUserId }

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
  /** The user's revocation epoch the session was issued under (0: before any revoke-all). */
  epoch: number
}

/**
 * An index entry is written before its session, so an entry younger than this whose session is
 * missing may be a login in flight: it is kept, never pruned. Older ones without a session are gone.
 */
const IN_FLIGHT_MS = 10_000

/** How long a revocation epoch lives when the user has no index (a rotation in flight still sees it). */
const EPOCH_FLOOR_MS = 3_600_000

/** How one kind of session record is found and ended (a manager's hash, a framework's string). */
export interface RecordKind {
  /** The session's owner: null when the session does not exist, '' when it has none. */
  ownerOf(keys: SessionKeys): Promise<string | null>
  /** Ends one session (the manager also cancels its tracked expiry; the store leaves a tombstone). */
  remove(keys: SessionKeys): Promise<unknown>
  /** Ends an id whose session is missing at a revoke-all: its save may still be in flight. */
  removeMissing?(keys: SessionKeys): Promise<unknown>
}

interface Entry {
  id: string
  settled: boolean
}

/**
 * What the manager and the framework store both do with the sessions of one name: destroy with
 * the owner's index, list and revoke per user, scan.
 *
 * Each session has its own hash tag so sessions spread over a Cluster; each user's index is a
 * sorted set under the user's own tag. The two are in different slots, so they are written one
 * after the other: the index entry first, so a session is never live without it (revoke-all always
 * finds it). An entry whose session is gone is dropped when seen (listing, revoking, logins).
 */
export class SessionRecords {
  readonly name: string
  readonly keys: SessionKeySpace
  readonly #rk: RedkitContext
  readonly #kind: RecordKind

  constructor(rk: RedkitContext, name: string, kind: RecordKind) {
    this.#rk = rk
    this.keys = new SessionKeySpace(rk, name)
    this.name = this.keys.name
    this.#kind = kind
  }

  get pattern(): string {
    return this.keys.pattern
  }

  static isId(id: string): boolean {
    return isSessionId(id)
  }

  key(id: string): string {
    return this.keys.key(id)
  }

  idOf(key: string): string | undefined {
    return this.keys.idOf(key)
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
      reply = await connection.sendUnmapped<Array<string | null>>(hmgetOf(key), key)
    } catch (error) {
      throw connection.mapError(error, 'HMGET')
    }
    const stored = parseFields(reply)
    if (stored === undefined) return undefined
    if (fingerprint !== '*' && stored.fingerprint !== '' && !safeEqual(stored.fingerprint, fingerprint)) return 'mismatch'
    if (touch && Date.now() - stored.lastAccessAt >= touchIntervalMs) {
      const at = await touchScript.call(connection, this.keys.of(id), [touchIntervalMs, '*'])
      if (at === 0) return undefined
      stored.lastAccessAt = at
      stored.expiresAt = expiryOf(at, stored.idleTimeoutMs, stored.absoluteExpiresAt)
    }
    return stored
  }

  /** Records an access (within the interval: keeps the last one). */
  async touch(id: string, touchIntervalMs: number, fingerprint: string): Promise<'gone' | 'mismatch' | 'ok'> {
    const at = await touchScript.call(this.#rk.connection, this.keys.of(id), [touchIntervalMs, fingerprint])
    return at === 0 ? 'gone' : at === -1 ? 'mismatch' : 'ok'
  }

  /** Reads and deletes a session in one step (rotation): only one caller gets it. */
  async take(id: string, fingerprint: string): Promise<StoredSession | 'mismatch' | undefined> {
    const reply = await takeScript.call(this.#rk.connection, this.keys.of(id), [fingerprint])
    if (reply === 'mismatch') return 'mismatch'
    return reply ? parseFields(reply) : undefined
  }

  /**
   * Adds a session to its user's index; `deadline` (epoch ms, 0: none) keeps the index alive as long
   * as the session. At a login (`prune`), entries of sessions that ended since are dropped, so an
   * index holds about as many entries as the user has live sessions.
   * @returns the user's revocation epoch, which a rotation compares with its session's
   */
  async indexAdd(userId: string, id: string, deadline: number, prune = true): Promise<number> {
    const [size, epoch] = await indexAddScript.call(this.#rk.connection, this.keys.user(userId), [id, deadline])
    if (prune && size > 1) await this.#prune(userId)
    return Number(epoch)
  }

  /** Drops `oldId` from the index and reads the user's revocation epoch (the end of a rotation). */
  async indexCheck(userId: string, oldId: string): Promise<number> {
    return Number(await indexCheckScript.call(this.#rk.connection, this.keys.user(userId), [oldId]))
  }

  /** The user's revocation epoch (0: no revoke-all yet). */
  async epoch(userId: string): Promise<number> {
    const { epoch } = this.keys.user(userId)
    return Number((await this.#rk.connection.send<string | null>(['GET', epoch], { key: epoch })) ?? 0) || 0
  }

  /** Keeps a user's index alive until at least `deadline` (a rolling session was touched); never shortens it. */
  async indexExtend(userId: string, deadline: number): Promise<void> {
    const { index } = this.keys.user(userId)
    await this.#rk.connection.send(['PEXPIREAT', index, String(deadline), 'GT'], { key: index })
  }

  async indexRemove(userId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return
    const { index } = this.keys.user(userId)
    await this.#rk.connection.send(['ZREM', index, ...ids], { key: index })
  }

  /** Deletes one session and its index entry. @returns false when it did not exist */
  async destroy(id: string): Promise<boolean> {
    const keys = this.keys.of(id)
    const owner = await this.#kind.ownerOf(keys)
    if (owner === null) {
      await this.#kind.removeMissing?.(keys)
      return false
    }
    await this.#kind.remove(keys)
    if (owner !== '') await this.indexRemove(owner, [id])
    return true
  }

  /** Ends the session of `userId` whose handle is `handle`. @returns false when there is none */
  async destroyByHandle(userId: string, handle: string): Promise<boolean> {
    if (!isHandle(handle)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'handle must be a session handle from listForUser')
    const entry = (await this.#entries(userId)).find(({ id }) => safeEqual(sessionHandle(id), handle))
    if (entry === undefined) return false
    const keys = this.keys.of(entry.id)
    if ((await this.#kind.ownerOf(keys)) !== userId) return false
    return this.destroy(entry.id)
  }

  /** A user's index entries: session id and whether it was added long enough ago to be settled. */
  async #entries(userId: string): Promise<Entry[]> {
    const { index } = this.keys.user(userId)
    return entriesOf(await this.#rk.connection.send<unknown[]>(['ZRANGE', index, '0', '-1', 'WITHSCORES'], { key: index }))
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
      const entry = entries[i] as Entry
      if (session !== undefined) live.push({ id: entry.id, session })
      else if (entry.settled) gone.push(entry.id)
    })
    await this.indexRemove(userId, gone)
    return live
  }

  /**
   * Revokes every session of a user (but `except`): first moves the user's revocation epoch on (a
   * rotation in flight then ends its new session), then deletes each session still owned by the
   * user (an entry left behind by an owner change never ends someone else's session).
   * @returns how many sessions ended
   */
  async destroyAll(userId: string, except?: string): Promise<number> {
    const reply = await revokeScript.call(this.#rk.connection, this.keys.user(userId), [EPOCH_FLOOR_MS])
    const entries = entriesOf(reply.slice(1)).filter((entry) => entry.id !== except)
    let destroyed = 0
    for (let i = 0; i < entries.length; i += 100) {
      const batch = entries.slice(i, i + 100)
      const outcomes = await Promise.all(
        batch.map(async ({ id }) => {
          const keys = this.keys.of(id)
          const owner = await this.#kind.ownerOf(keys)
          if (owner === null) {
            await this.#kind.removeMissing?.(keys)
            return 'missing'
          }
          if (owner !== userId) return 'other'
          await this.#kind.remove(keys)
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

  /** Each batch of session ids of this name (SCAN with about `count` keys a call), over every master. */
  async *scanPages(count = 1000, type?: 'string'): AsyncGenerator<string[]> {
    for (const node of this.#rk.connection.masters()) {
      let cursor = '0'
      do {
        const command = ['SCAN', cursor, 'MATCH', this.pattern, 'COUNT', String(count)]
        // A framework store's tombstones are hashes in its sessions' place: they are no sessions.
        if (type !== undefined) command.push('TYPE', type)
        const [next, keys] = await node.send<[string, string[]]>(command)
        cursor = String(next)
        const ids = keys.map((key) => this.idOf(key)).filter((id): id is string => id !== undefined)
        if (ids.length > 0) yield ids
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

/** Index entries from a ZRANGE WITHSCORES reply (RESP2: member, score, ...; RESP3: [member, score] pairs). */
function entriesOf(reply: unknown[]): Entry[] {
  const settledBefore = Date.now() - IN_FLIGHT_MS
  const pairs =
    reply.length > 0 && reply.every(Array.isArray)
      ? (reply as Array<[unknown, unknown]>)
      : Array.from({ length: reply.length / 2 }, (_, i) => [reply[2 * i], reply[2 * i + 1]] as [unknown, unknown])
  return pairs.map(([id, score]) => ({ id: String(id), settled: Number(score) < settledBefore }))
}

const HMGET_FIELDS: readonly string[] = ['HMGET', '', ...FIELDS]

/** `HMGET <key> <every field>`: a copy of one prebuilt array (no spread of FIELDS per read). */
function hmgetOf(key: string): string[] {
  const args = HMGET_FIELDS.slice()
  args[1] = key
  return args
}

/** A session hash's fields (HMGET in FIELDS order), or undefined when it does not exist. */
function parseFields(reply: Array<string | null>): StoredSession | undefined {
  // A field the hash lacks (written by hand, or by an older version) comes back as null.
  const [u, d, c, a, i, x, f, k, ip, ua, e] = reply
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
    epoch: Number(e ?? 0) || 0,
  }
}

/** Every write of a session sets its TTL to this: the idle deadline, capped by the absolute one (0: none). */
function expiryOf(lastAccessAt: number, idleTimeoutMs: number, absoluteExpiresAt: number): number {
  if (idleTimeoutMs <= 0) return absoluteExpiresAt
  const idle = lastAccessAt + idleTimeoutMs
  return absoluteExpiresAt > 0 && absoluteExpiresAt < idle ? absoluteExpiresAt : idle
}
