import type { BackoffOptions } from '../core/backoff.js'
import type { DurableOptions } from '../core/durability.js'
import type { RedkitError } from '../core/errors.js'

/** One expiration, as a handler receives it. Times are epoch ms. */
export interface ExpiryEvent<T = unknown> {
  /**
   * Stable identity of this expiry (`<key>@<deadline>`): the same in every group and on every
   * redelivery, so handlers can de-duplicate.
   */
  id: string
  key: string
  /**
   * When the key expired (server clock, epoch ms): its own expiry time, except for a `track`ed key
   * found gone before its TTL was re-read (then when it was found gone) and a `set` key whose TTL
   * was shortened outside redkit (then the recorded deadline); see docs/events.md. Unknown in native mode.
   */
  deadline: number | undefined
  /** When the handler was called (this process's clock). */
  firedAt: number
  /** firedAt - deadline; undefined in native mode. */
  lateMs: number | undefined
  /**
   * The kept copy (`withValue`): the value given to `set`, or to `expire`/`track` as `value`; the key's
   * string at `expire` with `keepValue`; for `track` with `keepValue`, its string as of the last
   * re-read (about once a second). Undefined once every group acknowledged the event (replays).
   */
  value?: T | undefined
  /** Set when the kept value could not be decoded; `value` is then undefined. */
  valueError?: RedkitError
  /** 1 on first delivery, more on retries. */
  attempt: number
  mode: 'reliable' | 'native'
}

export type ExpiryHandler<T = unknown> = (event: ExpiryEvent<T>) => unknown | Promise<unknown>

export interface SubscribeOptions {
  /**
   * `reliable` (default): keys written through redkit (`set`, `expire`, `track`), delivered at
   * least once per group, even to a group that was offline. `native`: any key, through keyspace
   * notifications (fire-and-forget: a subscriber that is down misses events).
   * @defaultValue 'reliable'
   */
  mode?: 'reliable' | 'native'
  /**
   * Consumer group (reliable mode). Each group gets every expiry; the processes of one group share
   * the work, so give every process of a group the same handlers.
   * @defaultValue the pattern's own group, `p-<hash of the pattern>`
   */
  group?: string
  /**
   * A group of this subscription's own (a watcher's): removed when the subscription closes, or by
   * the sweepers' trim once none of its consumers has read for `reclaimIdleMs` (its process was killed), so it
   * holds back no trimming. Reliable mode. @defaultValue false
   */
  temporary?: boolean
  /** Deliver the value the key held (reliable mode, for values kept at `set`/`expire`/`track`). @defaultValue false */
  withValue?: boolean
  /** Handler calls after which a failing event goes to the dead letters. @defaultValue 5 */
  attempts?: number
  /** Delay between attempts. @defaultValue exponential from 200 ms, at most 10 s */
  backoff?: BackoffOptions
  /** Events handled at once by this process for this group. @defaultValue 64 */
  concurrency?: number
  /**
   * Where a new group starts: `'new'` gets expirations from now on, `'retained'` also gets the
   * ones still in the stream (the replay window, `replayMs`; values only of events some group has
   * not acknowledged yet).
   * @defaultValue 'new'
   */
  from?: 'new' | 'retained'
}

/** `close()` stops delivering; events in flight finish and are acknowledged first. */
export type { Subscription } from '../core/subscription.js'

export interface ExpirySetOptions {
  /** Time to live in ms: a positive integer below 2^53. */
  ttlMs: number
  /** Keep a copy of the value to deliver with the expiry event (`withValue`). @defaultValue true */
  keepValue?: boolean
}

export interface ExpireOptions {
  /** Keep the key's current string value to deliver with the expiry event. @defaultValue false */
  keepValue?: boolean
  /**
   * Deliver this value with the expiry event instead of the key's own (encoded by the codec now);
   * works for keys of any type, e.g. the owner of a hash. Takes precedence over `keepValue`.
   */
  value?: unknown
}

export interface ExpirationsOptions {
  /**
   * How long an event stays in the stream while some group has not acknowledged it: a group offline
   * for longer misses the events older than this. A positive number of ms (there is no "forever").
   * @defaultValue 86_400_000 (24 h)
   */
  retentionMs?: number
  /**
   * How long an event that every group has acknowledged stays in the stream (without its value), for
   * a group created with `from: 'retained'` and for groups coming back after Redis lost its data.
   * 0 drops acknowledged events at once. At most `retentionMs`.
   * @defaultValue 600_000 (10 min), or `retentionMs` when that is shorter
   */
  replayMs?: number
  /** Run a sweeper in this process. Every process that writes or listens usually should. @defaultValue true */
  sweep?: boolean
  /** Longest pause between two sweeps when no wake-up arrives. @defaultValue 1000 */
  maxSweepIntervalMs?: number
  /** Entries a sweeper moves per script call. @defaultValue 1000 */
  sweepBatch?: number
  /** Lease on claimed entries (Cluster), after which another sweeper re-delivers them. @defaultValue 30_000 */
  claimLeaseMs?: number
  /** A delivered event not acknowledged for this long is taken over by another consumer of its group. @defaultValue 60_000 */
  reclaimIdleMs?: number
  /** Native mode on Cluster: how often the set of masters is compared with the subscribed ones. @defaultValue 5000 */
  nativeTopologyCheckMs?: number
  /**
   * `set`, `expire` and `cancel` resolve only once this many replicas have the write (Redis `WAIT`,
   * on a connection of its own); otherwise they fail with `E_NOT_DURABLE` (the write is on the
   * master). `timeoutMs` must be below `connectTimeoutMs`.
   */
  durable?: DurableOptions
}

export interface DeadLetter {
  id: string
  key: string
  deadline: number
  group: string
  error: string
  attempts: number
  at: number
}
