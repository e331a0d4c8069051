import { type Codec, jsonCodec } from '../core/codec.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'

/**
 * How an entry is stored: one Redis string, so a read is one GET.
 *
 *   <kind><createdAt>:<freshUntil>|<payload>
 *
 * - kind `j`: payload is plain JSON (the JSON codec wrote no tags, so `JSON.parse` decodes it);
 *   `c`: payload goes through the codec; `n`: a cached "absent" (negative caching), no payload.
 * - createdAt / freshUntil: epoch ms of the writer's clock. After freshUntil the entry is stale:
 *   served only within `staleWhileRevalidateMs` (the Redis TTL covers that window).
 *
 * Readable with redis-cli, and parsed with two indexOf calls.
 */
export const KIND_JSON = 106 // 'j'
export const KIND_CODEC = 99 // 'c'
export const KIND_ABSENT = 110 // 'n'

const TAG_MARK = '"$rk:'

export interface EncodedValue {
  /** 'j' or 'c' followed by nothing: the kind character to store. */
  kind: 'j' | 'c'
  payload: string
}

/** Encodes a value; `E_ENCODE` when the codec refuses it. */
export function encodeValue(codec: Codec, value: unknown): EncodedValue {
  const payload = codec.encode(value)
  // The JSON codec writes tags only for Date, BigInt, undefined and tag-like objects: without one,
  // the text is plain JSON and the reader can skip the codec's revive pass.
  const kind = codec === jsonCodec && !payload.includes(TAG_MARK) ? 'j' : 'c'
  return { kind, payload }
}

export function entryText(kind: 'j' | 'c' | 'n', createdAt: number, freshUntil: number, payload: string): string {
  return `${kind}${createdAt}:${freshUntil}|${payload}`
}

export interface ParsedEntry {
  kind: number
  createdAt: number
  freshUntil: number
  /** Index where the payload starts. */
  body: number
}

/**
 * Parses the header into `out` without allocating (the hit path runs this on every read).
 * @returns false when the text is not an entry redkit wrote
 */
export function parseHeader(text: string, out: ParsedEntry): boolean {
  const kind = text.charCodeAt(0)
  if (kind !== KIND_JSON && kind !== KIND_CODEC && kind !== KIND_ABSENT) return false
  const length = text.length
  let i = 1
  let createdAt = 0
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) break
    createdAt = createdAt * 10 + digit
  }
  if (i === 1 || text.charCodeAt(i) !== 58 /* : */) return false
  const start = ++i
  let freshUntil = 0
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) break
    freshUntil = freshUntil * 10 + digit
  }
  if (i === start || text.charCodeAt(i) !== 124 /* | */) return false
  out.kind = kind
  out.createdAt = createdAt
  out.freshUntil = freshUntil
  out.body = i + 1
  return true
}

/** Parses the header; undefined when the text is not an entry redkit wrote. */
export function parseEntry(text: string): ParsedEntry | undefined {
  const out: ParsedEntry = { kind: 0, createdAt: 0, freshUntil: 0, body: 0 }
  return parseHeader(text, out) ? out : undefined
}

/** Decodes the payload of a parsed entry. @throws RedkitError E_DECODE */
export function decodePayload(codec: Codec, text: string, entry: ParsedEntry): unknown {
  if (entry.kind === KIND_ABSENT) return undefined
  const payload = text.slice(entry.body)
  if (entry.kind === KIND_CODEC) return codec.decode(payload)
  try {
    return JSON.parse(payload)
  } catch (error) {
    throw new RedkitError(ErrorCodes.E_DECODE, `cached value is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      details: { sample: payload.slice(0, 64) },
    })
  }
}

/** True when the UTF-8 form of `text` is larger than `limit` bytes (counted only when it could be). */
export function exceedsBytes(text: string, limit: number): boolean {
  if (text.length * 3 <= limit) return false
  return Buffer.byteLength(text, 'utf8') > limit
}
