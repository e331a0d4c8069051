import { ErrorCodes, RedkitError } from './errors.js'
import { isWellFormed } from './validate.js'

/** Longest user-given name accepted, in UTF-16 code units. Redis allows 512 MB; humans do not need that. */
export const MAX_NAME_LENGTH = 1024

// Control characters break logs, CLI output and the protocol-level tooling people use to inspect keys.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/

/**
 * Validates a user-given name (object name, key, member id) and returns it.
 * @throws RedkitError E_INVALID_KEY
 */
export function validateName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string') {
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must be a string, got ${describeType(name)}`)
  }
  if (name.length === 0) throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not be empty`)
  if (name.length > MAX_NAME_LENGTH) {
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`)
  }
  if (!isWellFormed(name)) {
    // Redis would store a lone surrogate as U+FFFD, so '\uD800' and '\uDBFF' would name one key.
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must be well-formed Unicode (it holds a lone surrogate)`, {
      details: { name: JSON.stringify(name) },
    })
  }
  if (CONTROL_CHARS.test(name)) {
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not contain control characters`, {
      details: { name: JSON.stringify(name) },
    })
  }
  return name
}

/**
 * An object name becomes a hash tag, so it must not contain braces: Redis would hash only the part
 * up to the first `}`, and two objects could silently share a tag.
 */
export function validateObjectName(name: unknown, what = 'object name'): string {
  const valid = validateName(name, what)
  if (valid.includes('{') || valid.includes('}')) {
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not contain '{' or '}' (they delimit hash tags)`, {
      details: { name: valid },
    })
  }
  return valid
}

function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/**
 * The one place keys are built. Every key of one logical object is `<prefix>:{<object>}:<part>`,
 * so all of them share a hash tag and land in one Cluster slot by construction.
 */
export class KeySpace {
  readonly prefix: string

  constructor(prefix: string) {
    this.prefix = validateObjectName(prefix, 'prefix')
    if (this.prefix.includes(':')) {
      throw new RedkitError(ErrorCodes.E_INVALID_KEY, "prefix must not contain ':' (it separates key parts)")
    }
    // The ACL line (aclRules) writes the prefix into space-separated rules: a space in it would
    // start a rule of its own ('x >second-password ~rk' grants a second password).
    if (/\s/.test(this.prefix)) throw new RedkitError(ErrorCodes.E_INVALID_KEY, 'prefix must not contain whitespace')
  }

  /** `prefix:{object}:part1:part2`. The object is validated; parts come from redkit or are validated by the caller. */
  key(object: string, ...parts: string[]): string {
    const tag = `${this.prefix}:{${validateObjectName(object)}}`
    return parts.length === 0 ? tag : `${tag}:${parts.join(':')}`
  }

  /** A builder for one object's keys, validated once. */
  object(object: string): ObjectKeys {
    const base = `${this.prefix}:{${validateObjectName(object)}}`
    return (...parts: string[]) => (parts.length === 0 ? base : `${base}:${parts.join(':')}`)
  }

  /** The glob that matches every key redkit writes under this prefix (for SCAN-based purges). */
  pattern(object = '*'): string {
    return object === '*' ? `${this.prefix}:{*` : `${this.prefix}:{${escapeGlob(validateObjectName(object))}}:*`
  }
}

export type ObjectKeys = (...parts: string[]) => string

/** Escapes glob metacharacters so a literal name can be used in SCAN MATCH / PSUBSCRIBE. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

// CRC16-CCITT (XMODEM), the function Redis Cluster hashes keys with.
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[i] = crc
  }
  return table
})()

function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0)
  return crc
}

/** The Cluster hash slot of a key, honouring `{hash tags}` exactly as Redis does. */
export function hashSlot(key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(Buffer.from(key, 'utf8')) % 16384
}
