import { ErrorCodes, RedkitError } from '../core/errors.js'
import { type KeySpace, MAX_NAME_LENGTH, validateName, validateObjectName } from '../core/keys.js'
import { ENTRY_ROOT } from './wire.js'

// Control characters, the hash-tag braces, the escape character itself, and surrogates (a lone one
// is refused by validateName: Redis would store '\uD800' and '\uDBFF' as the same U+FFFD key).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const SPECIAL = /[\u0000-\u001f\u007f{}%\uD800-\uDFFF]/

/** `{`, `}` and `%` percent-encoded, so a user key can sit inside a hash tag and be read back. */
function escapeKey(key: string): string {
  return key.replace(/%/g, '%25').replace(/\{/g, '%7B').replace(/\}/g, '%7D')
}

function unescapeKey(text: string): string {
  return text.replace(/%7D/g, '}').replace(/%7B/g, '{').replace(/%25/g, '%')
}

/**
 * Every key of one cache. Each entry is its own object, `<prefix>:cache:{<cache>:<key>}`, so
 * entries spread over every Cluster slot; an entry's load lock (`<prefix>:cache-lock:{...}`) and
 * lease version (`<prefix>:cache-ver:{...}`) share its hash tag, so they are in its slot. A tag's
 * index is `<prefix>:{<cache>#tag:<tag>}` (its own slot too); the channel and the write-behind
 * stream of the cache live under `<prefix>:{<cache>}`.
 *
 * The entry prefix `<prefix>:cache:{<cache>:` is what client tracking (BCAST PREFIX) hears, and it
 * matches nothing but this cache's entries: every other object's keys start `<prefix>:{` (so an
 * object named `<cache>:...` does not match), locks and versions start `<prefix>:cache-`, and cache
 * names may not hold ':' or '#' (no cache's prefix is a prefix of another's).
 */
export class CacheKeys {
  readonly name: string
  /** `<prefix>:cache:{<cache>:`: every entry key starts with it, and no other key does (the client-tracking prefix). */
  readonly entryPrefix: string
  readonly #entryRoot: string
  readonly #lockRoot: string
  readonly #versionRoot: string
  readonly #tagPrefix: string
  /** Pub/sub channel: fills, load failures and invalidations of this cache. */
  readonly channel: string
  /**
   * Write-behind: stream of pending writes, newest id per key, number of each key's writes in the
   * stream, dead letters, each key's replayable dead write.
   */
  readonly stream: string
  readonly latest: string
  readonly queued: string
  readonly dead: string
  readonly deadAt: string

  constructor(keys: KeySpace, name: string) {
    this.name = validateObjectName(name, 'cache name')
    if (/[:#]/.test(name)) throw new RedkitError(ErrorCodes.E_INVALID_KEY, "cache name must not contain ':' or '#'", { details: { name } })
    this.#entryRoot = `${keys.prefix}:${ENTRY_ROOT.entry}:`
    this.#lockRoot = `${keys.prefix}:${ENTRY_ROOT.lock}:`
    this.#versionRoot = `${keys.prefix}:${ENTRY_ROOT.version}:`
    this.entryPrefix = `${this.#entryRoot}{${name}:`
    this.#tagPrefix = `${keys.prefix}:{${name}#tag:`
    const own = keys.object(name)
    this.channel = own('events')
    this.stream = own('wb')
    this.latest = own('wb-latest')
    this.queued = own('wb-queued')
    this.dead = own('wb-dead')
    this.deadAt = own('wb-dead-at')
  }

  /**
   * The Redis key of a cache key. Hot path: one regex test and a concatenation for ordinary keys.
   * @throws RedkitError E_INVALID_KEY
   */
  entry(key: string): string {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_NAME_LENGTH || SPECIAL.test(key)) {
      validateName(key, 'cache key')
      return `${this.entryPrefix}${escapeKey(key)}}`
    }
    return `${this.entryPrefix}${key}}`
  }

  /** The load lock of an entry (same slot). */
  lock(entryKey: string): string {
    return `${this.#lockRoot}${entryKey.slice(this.#entryRoot.length)}`
  }

  /** The lease version of an entry (same slot): bumped by every delete, set and invalidation. */
  version(entryKey: string): string {
    return `${this.#versionRoot}${entryKey.slice(this.#entryRoot.length)}`
  }

  /** The index of a tag: a set of entry keys. */
  tag(tag: string): string {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_NAME_LENGTH || SPECIAL.test(tag)) {
      validateName(tag, 'tag')
      return `${this.#tagPrefix}${escapeKey(tag)}}`
    }
    return `${this.#tagPrefix}${tag}}`
  }

  /** The cache key of an entry's Redis key, or undefined for any other key (locks, other caches). */
  keyOf(redisKey: string): string | undefined {
    if (!redisKey.startsWith(this.entryPrefix) || !redisKey.endsWith('}')) return undefined
    const inner = redisKey.slice(this.entryPrefix.length, -1)
    if (inner.includes('}')) return undefined
    return inner.includes('%') ? unescapeKey(inner) : inner
  }
}
