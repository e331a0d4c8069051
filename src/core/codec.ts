import { ErrorCodes, RedkitError } from './errors.js'

/** Turns values into the strings stored in Redis and back. Pluggable per redkit instance. */
export interface Codec {
  readonly name: string
  /** @throws RedkitError E_ENCODE when the value cannot be represented faithfully. */
  encode(value: unknown): string
  /** @throws RedkitError E_DECODE when the text is not a value this codec wrote. */
  decode(text: string): unknown
}

// Tagged wrappers for the types JSON cannot carry. A user object that happens to look like a tag
// is wrapped in ESCAPE, so decoding never mistakes user data for a tag.
const DATE = '$rk:date'
const BIGINT = '$rk:bigint'
const UNDEFINED = '$rk:undefined'
const ESCAPE = '$rk:object'
const TAGS = new Set([DATE, BIGINT, UNDEFINED, ESCAPE])

function isTagLike(value: object): boolean {
  const keys = Object.keys(value)
  return keys.length === 1 && TAGS.has(keys[0] as string)
}

function prepare(value: unknown, path: string, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) fail(path, `${value} is not representable (JSON would turn it into null)`)
      return value
    case 'bigint':
      return { [BIGINT]: value.toString() }
    case 'undefined':
      // Inside objects JSON drops undefined properties, which is what callers expect; elsewhere keep it.
      return { [UNDEFINED]: 1 }
    case 'function':
    case 'symbol':
      return fail(path, `a ${typeof value} cannot be stored`)
  }
  if (value === null) return null
  const obj = value as object
  if (obj instanceof Date) {
    if (Number.isNaN(obj.getTime())) fail(path, 'an invalid Date cannot be stored')
    return { [DATE]: obj.toISOString() }
  }
  if (seen.has(obj)) fail(path, 'the value contains a cycle')
  if (Array.isArray(obj)) {
    seen.add(obj)
    const out = obj.map((item, i) => (item === undefined ? null : prepare(item, `${path}[${i}]`, seen)))
    seen.delete(obj)
    return out
  }
  const proto = Object.getPrototypeOf(obj)
  if (proto !== Object.prototype && proto !== null) {
    // Map, Set, class instances, Buffers: JSON would silently turn them into {} or lose their type.
    fail(path, `a ${obj.constructor?.name ?? 'non-plain object'} cannot be stored by the JSON codec; convert it to a plain object first`)
  }
  seen.add(obj)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue
    out[k] = prepare(v, `${path}.${k}`, seen)
  }
  seen.delete(obj)
  return isTagLike(out) ? { [ESCAPE]: out } : out
}

function fail(path: string, reason: string): never {
  throw new RedkitError(ErrorCodes.E_ENCODE, `cannot encode value at ${path}: ${reason}`)
}

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive)
  if (value === null || typeof value !== 'object') return value
  const obj = value as Record<string, unknown>
  if (isTagLike(obj)) {
    const [tag, inner] = Object.entries(obj)[0] as [string, unknown]
    if (tag === DATE && typeof inner === 'string') return new Date(inner)
    if (tag === BIGINT && typeof inner === 'string') return BigInt(inner)
    if (tag === UNDEFINED) return undefined
    if (tag === ESCAPE && inner !== null && typeof inner === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(inner)) out[k] = revive(v)
      return out
    }
    throw new Error(`malformed ${tag} tag`)
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) out[k] = revive(v)
  return out
}

/**
 * JSON with explicit round-tripping of Date, BigInt and top-level undefined.
 * Values JSON would silently alter (NaN, Infinity, Map, Set, class instances, cycles) are rejected.
 */
export const jsonCodec: Codec = {
  name: 'json',
  encode(value: unknown): string {
    return JSON.stringify(prepare(value, '$', new Set()))
  },
  decode(text: string): unknown {
    try {
      return revive(JSON.parse(text))
    } catch (error) {
      throw new RedkitError(ErrorCodes.E_DECODE, `stored value is not valid ${jsonCodec.name}: ${(error as Error).message}`, {
        cause: error,
        details: { sample: text.slice(0, 64) },
      })
    }
  },
}

/** Wraps a user codec so that whatever it throws surfaces as E_ENCODE / E_DECODE. */
export function guardCodec(codec: Codec): Codec {
  if (codec === jsonCodec) return codec
  return {
    name: codec.name,
    encode(value) {
      let text: unknown
      try {
        text = codec.encode(value)
      } catch (error) {
        if (error instanceof RedkitError) throw error
        throw new RedkitError(ErrorCodes.E_ENCODE, `codec ${codec.name} cannot encode value: ${(error as Error).message}`, { cause: error })
      }
      if (typeof text !== 'string')
        throw new RedkitError(ErrorCodes.E_ENCODE, `codec ${codec.name} returned ${typeof text}, expected a string`)
      return text
    },
    decode(text) {
      try {
        return codec.decode(text)
      } catch (error) {
        if (error instanceof RedkitError) throw error
        throw new RedkitError(ErrorCodes.E_DECODE, `codec ${codec.name} cannot decode stored value: ${(error as Error).message}`, {
          cause: error,
        })
      }
    },
  }
}
