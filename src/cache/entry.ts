import { type Codec, jsonCodec } from '../core/codec.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'

/**
 * How an entry is stored: one Redis string, so a read is one GET.
 *
 *   <kind><createdAt>:<freshUntil>|<payload>
 *   <kind><createdAt>:<freshUntil>;<ttlMs>;<length>;<tags>|<payload>
 *
 * - kind `j`: payload is plain JSON (the JSON codec wrote no tags, so `JSON.parse` decodes it);
 *   `c`: payload goes through the codec; `n`: a cached "absent" (negative caching), no payload.
 * - createdAt / freshUntil: epoch ms of the writer's clock. After freshUntil the entry is stale:
 *   served only within `staleWhileRevalidateMs` (the Redis TTL covers that window).
 *
 * - the second form carries the per-call options the entry was written with (`ttlMs` '' when the
 *   cache's; `<tags>` the tags joined by '\n', `<length>` characters long): refreshes and reloads
 *   write the entry again with them, so its tag index never outlives or misses it.
 *
 * Readable with redis-cli, and parsed in one pass without allocating.
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

/** The per-call options an entry was written with (kept in its header). */
export interface EntryMeta {
  ttlMs: number | undefined
  tags: readonly string[] | undefined
}

export function entryText(kind: 'j' | 'c' | 'n', createdAt: number, freshUntil: number, payload: string, meta?: EntryMeta): string {
  if (meta === undefined || (meta.ttlMs === undefined && (meta.tags === undefined || meta.tags.length === 0)))
    return `${kind}${createdAt}:${freshUntil}|${payload}`
  const tags = meta.tags ? meta.tags.join('\n') : ''
  return `${kind}${createdAt}:${freshUntil};${meta.ttlMs ?? ''};${tags.length};${tags}|${payload}`
}

export interface ParsedEntry {
  kind: number
  createdAt: number
  freshUntil: number
  /** Index where the payload starts. */
  body: number
  /** Per-call TTL of the entry, -1 for the cache's own. */
  ttlMs: number
  /** Where the '\n'-joined tags are in the text (start === end: none). */
  tagsStart: number
  tagsEnd: number
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
  if (i === start) return false
  out.ttlMs = -1
  out.tagsStart = out.tagsEnd = 0
  if (text.charCodeAt(i) === 59 /* ; */) {
    const ttlStart = ++i
    let ttl = 0
    for (; i < length; i++) {
      const digit = text.charCodeAt(i) - 48
      if (digit < 0 || digit > 9) break
      ttl = ttl * 10 + digit
    }
    if (i > ttlStart) out.ttlMs = ttl
    if (text.charCodeAt(i) !== 59) return false
    const lengthStart = ++i
    let tagsLength = 0
    for (; i < length; i++) {
      const digit = text.charCodeAt(i) - 48
      if (digit < 0 || digit > 9) break
      tagsLength = tagsLength * 10 + digit
    }
    if (i === lengthStart || text.charCodeAt(i) !== 59) return false
    out.tagsStart = i + 1
    i = out.tagsEnd = out.tagsStart + tagsLength
  }
  if (text.charCodeAt(i) !== 124 /* | */) return false
  out.kind = kind
  out.createdAt = createdAt
  out.freshUntil = freshUntil
  out.body = i + 1
  return true
}

/** Parses the header; undefined when the text is not an entry redkit wrote. */
export function parseEntry(text: string): ParsedEntry | undefined {
  const out = emptyHeader()
  return parseHeader(text, out) ? out : undefined
}

export function emptyHeader(): ParsedEntry {
  return { kind: 0, createdAt: 0, freshUntil: 0, body: 0, ttlMs: -1, tagsStart: 0, tagsEnd: 0 }
}

/** The per-call options of a parsed entry, undefined when it was written with the cache's. */
export function metaOf(text: string, entry: ParsedEntry): EntryMeta | undefined {
  if (entry.ttlMs < 0 && entry.tagsStart === entry.tagsEnd) return undefined
  return {
    ttlMs: entry.ttlMs < 0 ? undefined : entry.ttlMs,
    tags: entry.tagsStart === entry.tagsEnd ? undefined : text.slice(entry.tagsStart, entry.tagsEnd).split('\n'),
  }
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
