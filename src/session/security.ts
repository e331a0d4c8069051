import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ErrorCodes, RedkitError } from '../core/errors.js'

/** 32 bytes from the CSPRNG (256 bits), base64url: 43 characters, safe in cookies and keys. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url')
}

/** A fresh synchronizer token for CSRF checks (256 bits). */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url')
}

/** A short, one-way name for a session id, for logs and events (the id itself is a bearer secret). */
export function idHash(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 12)
}

/** Compares two secrets in constant time (for equal lengths; the length itself is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/** What a session can be bound to: the client it was issued to. */
export interface ClientContext {
  ip?: string | undefined
  userAgent?: string | undefined
}

/** Longest client context accepted: an IPv6 address with a zone fits in 64; real user agents are a few hundred characters. */
export const MAX_IP_LENGTH = 64
export const MAX_USER_AGENT_LENGTH = 1024

const CONTEXT_FIELDS = [
  ['ip', MAX_IP_LENGTH],
  ['userAgent', MAX_USER_AGENT_LENGTH],
] as const

/** Validates a client context (it comes from request headers, so from the client): strings of bounded length only. */
export function validateClientContext<C extends ClientContext>(context: C | undefined, what = 'context'): C {
  if (context === undefined) return {} as C
  if (context === null || typeof context !== 'object' || Array.isArray(context))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be an object such as { ip, userAgent }`)
  for (const [field, max] of CONTEXT_FIELDS) {
    const value = context[field]
    if (value === undefined) continue
    if (typeof value !== 'string')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what}.${field} must be a string, got ${typeof value}`)
    if (value.length > max)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what}.${field} is ${value.length} characters long; the limit is ${max}`)
  }
  return context
}

export type FingerprintOption = boolean | 'user-agent' | 'user-agent+ip' | ((context: ClientContext) => string)

/**
 * The fingerprint a session is bound to, as a short hash (the raw user agent and ip are not what is
 * compared). `true` and 'user-agent' bind to the user agent only: binding to the ip logs out mobile
 * users whose address changes, so it is opt-in. Returns '' when binding is off.
 */
export function fingerprintOf(option: FingerprintOption | undefined, context: ClientContext | undefined): string {
  if (!option) return ''
  let material: string
  if (typeof option === 'function') material = String(option(context ?? {}))
  else if (option === 'user-agent+ip') material = `${context?.userAgent ?? ''}\n${context?.ip ?? ''}`
  else if (option === true || option === 'user-agent') material = context?.userAgent ?? ''
  else throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `fingerprint must be a boolean, 'user-agent', 'user-agent+ip' or a function`)
  return createHash('sha256').update(material).digest('base64url').slice(0, 22)
}

/**
 * Signs session ids with HMAC-SHA256 (`<id>.<mac>`) under the first secret, and accepts ids signed
 * under any of them, so secrets can be rotated without logging everyone out.
 */
export class IdSigner {
  readonly #secrets: readonly string[]

  constructor(secret: string | readonly string[]) {
    const secrets = typeof secret === 'string' ? [secret] : [...secret]
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 16))
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        'secret must be a string (or a non-empty list of strings) of at least 16 characters',
      )
    this.#secrets = secrets
  }

  sign(id: string): string {
    return `${id}.${mac(this.#secrets[0] as string, id)}`
  }

  /** The id inside a signed value, or undefined when the signature does not match any secret. */
  unsign(value: string): string | undefined {
    const dot = value.lastIndexOf('.')
    if (dot <= 0) return undefined
    const id = value.slice(0, dot)
    const given = value.slice(dot + 1)
    return this.#secrets.some((secret) => safeEqual(mac(secret, id), given)) ? id : undefined
  }
}

function mac(secret: string, id: string): string {
  return createHmac('sha256', secret).update(id).digest('base64url')
}

/**
 * The non-secret name of a session, for "your devices" pages and for ending one device: a one-way
 * hash of the id (132 bits), so listing a user's sessions never hands out a bearer token.
 */
export function sessionHandle(id: string): string {
  return createHash('sha256').update(`redkit session handle\n${id}`).digest('base64url').slice(0, 22)
}

/** Handles are what `sessionHandle` returns: 22 characters of base64url. */
export function isHandle(handle: unknown): handle is string {
  return typeof handle === 'string' && /^[A-Za-z0-9_-]{22}$/.test(handle)
}
