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
const NEGATIVE_ZERO = '$rk:-0'
const ESCAPE = '$rk:object'
const TAGS = new Set([DATE, BIGINT, UNDEFINED, NEGATIVE_ZERO, ESCAPE])

/** Deeper values are refused (E_ENCODE) rather than overflowing the stack in JSON.stringify. */
export const MAX_DEPTH = 256

/**
 * Sets `key` as an own, enumerable data property. Plain assignment would run the `__proto__`
 * setter for the key "__proto__": on encode the key would vanish, on decode foreign JSON could
 * replace the object's prototype (prototype pollution).
 */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

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
      // JSON writes -0 as 0.
      return Object.is(value, -0) ? { [NEGATIVE_ZERO]: 1 } : value
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
  if (seen.size >= MAX_DEPTH) fail(path, `the value is nested deeper than ${MAX_DEPTH} levels`)
  if (Array.isArray(obj)) {
    seen.add(obj)
    const out: unknown[] = []
    for (let i = 0; i < obj.length; i++) {
      // JSON would write a hole as null; a hole and an undefined item are different arrays.
      if (!(i in obj)) fail(`${path}[${i}]`, 'a sparse array (hole) cannot be stored; fill it or use undefined')
      out.push(prepare(obj[i], `${path}[${i}]`, seen))
    }
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
    define(out, k, prepare(v, `${path}.${k}`, seen))
  }
  seen.delete(obj)
  return isTagLike(out) ? { [ESCAPE]: out } : out
}

function fail(path: string, reason: string): never {
  throw new RedkitError(ErrorCodes.E_ENCODE, `cannot encode value at ${path}: ${reason}`)
}

/**
 * The read side enforces what the write side does: stored text that `encode` could not have
 * produced (a number JSON reads as Infinity, an invalid date, nesting deeper than MAX_DEPTH) is
 * refused, so what a reader gets is always a value a writer could have stored.
 */
function revive(value: unknown, depth = 0): unknown {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('a number out of range (JSON read it as Infinity)')
    return value
  }
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_DEPTH) throw new Error(`the value is nested deeper than ${MAX_DEPTH} levels`)
  if (Array.isArray(value)) return value.map((item) => revive(item, depth + 1))
  const obj = value as Record<string, unknown>
  if (isTagLike(obj)) {
    const [tag, inner] = Object.entries(obj)[0] as [string, unknown]
    if (tag === DATE && typeof inner === 'string') {
      const date = new Date(inner)
      if (Number.isNaN(date.getTime())) throw new Error(`malformed ${tag} tag (not a date)`)
      return date
    }
    if (tag === BIGINT && typeof inner === 'string' && /^-?\d+$/.test(inner)) return BigInt(inner)
    if (tag === UNDEFINED) return undefined
    if (tag === NEGATIVE_ZERO) return -0
    if (tag === ESCAPE && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) return reviveObject(inner, depth)
    throw new Error(`malformed ${tag} tag`)
  }
  return reviveObject(obj, depth)
}

function reviveObject(obj: object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) define(out, k, revive(v, depth + 1))
  return out
}

/**
 * JSON with explicit round-tripping of Date, BigInt, -0, undefined (top level and array items) and
 * own `__proto__` keys; undefined object properties are dropped, as JSON does. Values JSON would
 * silently alter (NaN, Infinity, holes, Map, Set, class instances, cycles, nesting deeper than
 * MAX_DEPTH) are rejected with E_ENCODE. Decoding never touches a prototype.
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
