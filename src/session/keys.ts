import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { escapeGlob, validateName, validateObjectName } from '../core/keys.js'

/** The keys of one session id, in the id's own hash tag (sessions spread over a Cluster). */
export interface SessionKeys {
  /** The session: a hash (manager), or a string (framework store; a small hash is its tombstone). */
  readonly session: string
  /** A framework session's absolute deadline (with `absoluteTimeoutMs`). */
  readonly deadline: string
}

/** The keys of one user, in the user's own hash tag. */
export interface UserKeys {
  /** zset of the user's session ids, scored by when each was added. */
  readonly index: string
  /** The server time of the user's last revoke-all (rotations check it). */
  readonly epoch: string
}

const ID_SHAPE = /^[A-Za-z0-9_-]{1,256}$/

/** Session ids are opaque strings of [A-Za-z0-9_-]: anything else cannot be one (and is not looked up). */
export function isSessionId(id: string): boolean {
  return ID_SHAPE.test(id)
}

/** User ids name an index key: non-empty, bounded, no control characters or braces. */
export function validateUserId(userId: unknown): string {
  if (typeof userId !== 'string')
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `userId must be a string, got ${userId === null ? 'null' : typeof userId}`)
  return validateObjectName(validateName(userId, 'userId'), 'userId')
}

/** Where the sessions of one name live: `{session:<name>:id:<id>}:s` and `{session:<name>:user:<user>}:ids`. */
export class SessionKeySpace {
  readonly name: string
  /** The glob matching every session key of this name (expiry subscriptions, SCAN). */
  readonly pattern: string
  readonly #head: string
  readonly #rk: Pick<RedkitContext, 'keys'>

  constructor(rk: Pick<RedkitContext, 'keys'>, name: string) {
    this.#rk = rk
    this.name = SessionKeySpace.validName(name)
    this.pattern = `${rk.keys.prefix}:{session:${escapeGlob(this.name)}:id:*}:s`
    this.#head = `${rk.keys.key(`session:${this.name}:id:`)}`.slice(0, -1)
  }

  /** A sessions name, validated: no braces, and no ':' (it separates the name from the parts after it: no name's keys can match another's). */
  static validName(name: unknown): string {
    const valid = validateObjectName(name, 'sessions name')
    if (valid.includes(':')) throw new RedkitError(ErrorCodes.E_INVALID_KEY, "sessions name must not contain ':'")
    return valid
  }

  /** The key of a session id that passed `isSessionId` (nothing left to validate: the hot path). */
  key(id: string): string {
    return `${this.#head}${id}}:s`
  }

  of(id: string): SessionKeys {
    return { session: `${this.#head}${id}}:s`, deadline: `${this.#head}${id}}:x` }
  }

  user(userId: string): UserKeys {
    const object = this.#rk.keys.object(`session:${this.name}:user:${validateUserId(userId)}`)
    return { index: object('ids'), epoch: object('rev') }
  }

  /** The session id inside a session key, or undefined for any other key. */
  idOf(key: string): string | undefined {
    if (!key.startsWith(this.#head) || !key.endsWith('}:s')) return undefined
    const id = key.slice(this.#head.length, -3)
    return isSessionId(id) ? id : undefined
  }
}
