import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { escapeGlob, validateName, validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'

export const sessionScripts = {
  create: defineScript<
    [session: string],
    [
      data: string,
      userId: string,
      idleMs: number,
      absoluteAt: number,
      absoluteMs: number,
      fingerprint: string,
      csrf: string,
      ip: string,
      userAgent: string,
      createdAt: number,
    ],
    number | [number, number, number]
  >('session-create'),
  get: defineScript<
    [session: string],
    [fingerprint: string, touch: '0' | '1', touchIntervalMs: number],
    null | 'mismatch' | Array<string | number | null>
  >('session-get'),
  update: defineScript<[session: string], [data: string], number>('session-update'),
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
  csrfToken: string
  ip: string | undefined
  userAgent: string | undefined
  expiresAt: number
}

const ID_SHAPE = /^[A-Za-z0-9_-]{1,256}$/

/** How one kind of session record is found and removed (a manager's hash, a framework's string). */
export interface RecordKind {
  /** The session's owner: null when the session does not exist, '' when it has none. */
  ownerOf(key: string): Promise<string | null>
  /** Deletes one session key. @returns false when it did not exist */
  remove(key: string): Promise<boolean>
}

/**
 * Where the sessions of one name live, and what the manager and the framework store both do with
 * them: destroy with the owner's index, list and revoke per user, scan.
 *
 * Each session has its own hash tag (`{session:<name>:id:<id>}`) so sessions spread over a Cluster;
 * each user's index is a sorted set under the user's own tag. The two are in different slots, so
 * the index is kept up to date next to the session (never inside one script) and pruned on read:
 * an index entry without its session is dropped when seen.
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
    return key.slice(this.#head.length, -3)
  }

  /**
   * One round trip. `touchIntervalMs`: an access within this long of the last recorded one is not
   * written again (the idle timeout is then exact to within it).
   */
  async read(id: string, fingerprint: string, touch: boolean, touchIntervalMs = 0): Promise<StoredSession | 'mismatch' | undefined> {
    const key = this.key(id)
    const reply = await sessionScripts.get.run(this.#rk.connection, [key], [fingerprint, touch ? '1' : '0', touchIntervalMs])
    if (reply === null || reply === undefined) return undefined
    if (reply === 'mismatch') return 'mismatch'
    // A field the hash lacks (written by an older version, or by hand) comes back as null.
    const [u, d, c, a, i, x, k, ip, ua] = reply
    const lastAccessAt = Number(a ?? 0)
    const idleTimeoutMs = Number(i ?? 0)
    const absoluteExpiresAt = Number(x ?? 0)
    return {
      userId: u ? String(u) : undefined,
      data: d === null || d === undefined ? '' : String(d),
      createdAt: Number(c ?? 0),
      lastAccessAt,
      idleTimeoutMs,
      absoluteExpiresAt,
      csrfToken: k ? String(k) : '',
      ip: ip ? String(ip) : undefined,
      userAgent: ua ? String(ua) : undefined,
      expiresAt: expiryOf(lastAccessAt, idleTimeoutMs, absoluteExpiresAt),
    }
  }

  async indexAdd(userId: string, id: string, absoluteExpiresAt: number): Promise<void> {
    await sessionScripts.indexAdd.run(this.#rk.connection, [this.userIndex(userId)], [id, absoluteExpiresAt])
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
    const removed = await this.#kind.remove(key)
    if (owner !== '') await this.indexRemove(owner, [id])
    return removed
  }

  /** Ids in a user's index (some may have just expired: see `list`). */
  async userIds(userId: string): Promise<string[]> {
    const index = this.userIndex(userId)
    return this.#rk.connection.send<string[]>(['ZRANGE', index, '0', '-1'], { key: index })
  }

  /**
   * Loads each session in a user's index; entries whose session is gone (or `load` says is not the
   * user's any more) are dropped from the index.
   */
  async list<T>(userId: string, load: (id: string) => Promise<T | undefined>): Promise<Array<{ id: string; session: T }>> {
    const ids = await this.userIds(userId)
    const found = await Promise.all(ids.map(load))
    const live: Array<{ id: string; session: T }> = []
    const gone: string[] = []
    found.forEach((session, i) => {
      const id = ids[i] as string
      if (session === undefined) gone.push(id)
      else live.push({ id, session })
    })
    await this.indexRemove(userId, gone)
    return live
  }

  /** Revokes every session of a user (but `except`). @returns how many live sessions were destroyed */
  async destroyAll(userId: string, except?: string): Promise<number> {
    const ids = (await this.userIds(userId)).filter((id) => id !== except)
    let destroyed = 0
    for (let i = 0; i < ids.length; i += 100) {
      const batch = ids.slice(i, i + 100)
      const removed = await Promise.all(batch.map((id) => this.#kind.remove(this.key(id))))
      destroyed += removed.filter(Boolean).length
      await this.indexRemove(userId, batch)
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
}

/** Every write of a session sets its TTL to this: the idle deadline, capped by the absolute one (0: none). */
export function expiryOf(lastAccessAt: number, idleTimeoutMs: number, absoluteExpiresAt: number): number {
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
