import type { BackoffOptions } from '../core/backoff.js'
import type { RedkitError } from '../core/errors.js'

/** The public types of `rk.presence(...)`: options, members, transitions, dead letters, events. */

export interface PresenceOptions {
  /** How long a heartbeat keeps a member online: a positive integer number of ms below 2^53. */
  ttlMs: number
  /**
   * Default consumer group of `on()`. Every group gets every transition once; the processes of one
   * group share them. @defaultValue `presence:<name>`
   */
  group?: string
  /**
   * How long transitions stay in the stream for groups that are not reading (a watcher that was
   * down). A group away for longer misses the older ones. @defaultValue 86_400_000 (24 h)
   */
  retentionMs?: number
  /**
   * How often a watching process looks for members whose offline was never recorded (their expiry
   * event was lost to a dead letter, or happened before anyone watched). @defaultValue 5000
   */
  reapIntervalMs?: number
}

export interface PresenceWatchOptions {
  /** Consumer group. @defaultValue the presence's `group` option */
  group?: string
  /** Handler calls after which a failing transition goes to the dead letters. @defaultValue 5 */
  attempts?: number
  /** Delay between attempts. @defaultValue exponential from 200 ms, at most 10 s */
  backoff?: BackoffOptions
  /** Transitions handled at once by this process (one member's are always handled in order). @defaultValue 16 */
  concurrency?: number
  /**
   * Where a group seen for the first time starts: `'new'` hears transitions from now on,
   * `'retained'` also those still in the stream. @defaultValue 'new'
   */
  from?: 'new' | 'retained'
  /** A transition left unacknowledged this long by a consumer (that died) is handled by another. @defaultValue 60_000 */
  reclaimIdleMs?: number
}

/** A member that is online now. Times are epoch ms, server clock. */
export interface PresenceMember<M = unknown> {
  id: string
  /** When it came online. */
  since: number
  /** Its latest heartbeat. */
  lastBeat: number
  /** When it goes offline unless it beats again. */
  deadline: number
  /** The meta of its latest beat that carried one. */
  meta: M | undefined
}

interface TransitionBase<M> {
  /**
   * Stable identity of this transition (its stream entry id): the same in every group and on every
   * redelivery, so handlers can de-duplicate.
   */
  eventId: string
  /** The presence it belongs to. */
  presence: string
  id: string
  meta: M | undefined
  /** Set when the stored meta could not be decoded; `meta` is then undefined. */
  metaError?: RedkitError
  /** When it came online. */
  since: number
  /** 1 on first delivery, more on retries. */
  attempt: number
}

export interface PresenceOnlineEvent<M = unknown> extends TransitionBase<M> {
  type: 'online'
  /** When it came online (= since). */
  at: number
}

export interface PresenceOfflineEvent<M = unknown> extends TransitionBase<M> {
  type: 'offline'
  /** When it went offline: the deadline its last heartbeat set. */
  at: number
  /** Its last heartbeat. */
  lastBeat: number
}

export type PresenceEvent<M = unknown> = PresenceOnlineEvent<M> | PresenceOfflineEvent<M>

export interface PresenceTransitions<M = unknown> {
  online: PresenceOnlineEvent<M>
  offline: PresenceOfflineEvent<M>
}

export interface PresenceDeadLetter {
  eventId: string
  type: string
  id: string
  group: string
  error: string
  attempts: number
}

export interface PresenceEvents {
  /** A background failure (read, lapse check, decode); watching goes on. */
  error: [RedkitError]
  /** A transition failed every attempt of a group's handlers and went to the dead letters. */
  dead: [PresenceDeadLetter]
  /** A group was found gone (Redis lost its data) and recreated: transitions it had not acknowledged are lost. */
  reset: [{ group: string }]
}
