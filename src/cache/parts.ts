import { randomBytes } from 'node:crypto'
import type { Codec } from '../core/codec.js'
import type { Connection } from '../core/connection.js'
import type { BloomFilter } from '../stats/index.js'
import type { CacheKeys } from './cache-keys.js'
import type { NearCache } from './near.js'
import type { CacheEvents, CacheStats } from './types.js'

/** The settings every part of a cache reads (validated once by the facade). */
export interface CacheSettings {
  readonly ttlMs: number
  readonly jitter: number
  readonly negativeTtlMs: number | undefined
  readonly swrMs: number
  readonly refreshAhead: number | undefined
  readonly loadTimeoutMs: number
  readonly maxValueBytes: number
  readonly distributed: boolean
  /** TTL of a load lock, and the longest a load's lease is honoured (a slower load never stores). */
  readonly lockTtlMs: number
  /** TTL of a bumped lease version: longer than any lease is honoured, so a void is never forgotten first. */
  readonly leaseVersionTtlMs: number
}

/**
 * What the parts of one cache (load coordinator, write policy, message protocol) share: the
 * facade builds it once. Events go through `notify`, which emits only when someone listens (the
 * hit path must not allocate event objects for nobody).
 */
export interface CacheParts {
  readonly name: string
  readonly connection: Connection
  readonly codec: Codec
  readonly keys: CacheKeys
  /** Random id of this cache object: its own messages are recognised by it. */
  readonly instance: string
  readonly near: NearCache | undefined
  readonly bloom: BloomFilter | undefined
  readonly stats: CacheStats
  readonly settings: CacheSettings
  readonly closed: () => boolean
  notify<K extends keyof CacheEvents>(event: K, ...args: CacheEvents[K]): void
  report(error: unknown): void
}

const VERSION_ORIGIN = randomBytes(9).toString('base64url')
let versions = 0

/**
 * A new lease version for a void (or a grant while none is stored). Unique to this process and
 * call, never a counter: a version key that is lost (FLUSHALL, eviction, a restart without data)
 * must not come back with a value an old lease holds, or a voided load would store its old value.
 */
export function freshVersion(): string {
  versions = (versions + 1) % Number.MAX_SAFE_INTEGER
  return `${VERSION_ORIGIN}.${versions.toString(36)}`
}

/** A load's lease: stores count only while the entry's lease version is still `version`. */
export interface Lease {
  readonly version: string
  /** The load lock's token ('' in local stampede mode: no lock). */
  readonly token: string
  /** performance.now() when granted: a lease older than the lock TTL is not honoured. */
  readonly grantedAt: number
}
