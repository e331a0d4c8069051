import type { BackoffOptions } from './backoff.js'
import type { Clock } from './clock.js'
import type { RedkitError } from './errors.js'

/** What the reader hands over: one item of one stream entry, with the handler call it is. */
export interface ReaderEntry {
  streamId: string
  fields: string[]
  /** The item of the entry (from 0); an entry holds one item unless `items` says otherwise. */
  item: number
  /** 1 on the first handler call of this delivery, more on retries after a handler failure. */
  attempt: number
}

/**
 * How an item ended: handled; dead-lettered (one item: the entry acknowledged with it, 'acked');
 * or left pending (stopping, or the dead letter could not be written).
 */
export type Outcome = 'done' | 'dead' | 'acked' | 'pending'

/** Marks an item of a several-item entry as dead-lettered in `failures` (its entry is acknowledged later). */
export const DEAD_MARK = 'dead'

export interface StreamGroupReaderOptions {
  /**
   * How errors name the reader: `<kind> <name>`, its owner's label (`presence devices`), so that a
   * reader's error reads as its owner's. @defaultValue 'stream group' and the group
   */
  kind?: string
  name?: string
  /** @defaultValue systemClock */
  clock?: Clock
  stream: string
  /** Dead letters: an entry that failed every attempt is copied here and acknowledged in one script. */
  dead: string
  group: string
  from: 'new' | 'retained'
  /**
   * Handler calls after which a failing item goes to the dead letters. Only calls that ran count:
   * an item taken over from a consumer that died gets its attempts again (a crash is not a failure).
   */
  attempts: number
  backoff: BackoffOptions
  /** Items handled at once, exactly; entries with the same `orderKey` are always handled one after the other, in stream order. */
  concurrency: number
  /**
   * The number of items an entry carries (default 1; expiry events: one entry per sweep batch).
   * Each item is handled, retried, counted and dead-lettered on its own; the entry is acknowledged
   * once every item is settled, so a crash re-delivers the items of the entry already handled too.
   */
  items?(fields: string[]): number
  reclaimIdleMs: number
  maxDeadLetters: number
  /** Entries fetched per read. @defaultValue 500 */
  readCount?: number
  /**
   * Group registry (a hash in the stream's slot). With it, a group lost with the stream's state
   * (restart without persistence, FLUSHDB, eviction) is recreated from the stream's start, and
   * groups seen for the first time after such a loss start there too.
   */
  registry?: string
  /**
   * With `registry`: the group is removed when this consumer stops, and marked so that a stale one
   * (its process killed) is removed by the stream's trim. For a watcher's group of its own.
   */
  temporary?: boolean
  /** With `registry`: how long after the stream's state began new groups start at its beginning. @defaultValue 86_400_000 */
  youngStateMs?: number
  /**
   * Failed handler calls per item and group (a hash in the stream's slot), so that an item taken
   * over by another consumer goes on counting from there; an item of a several-item entry that was
   * dead-lettered is marked here until its entry is acknowledged.
   */
  failures: string
  /** The group was found gone and recreated: the events it had not acknowledged are lost. Called once per recreation. */
  onReset?(): void
  /** The order key of an entry (presence: the member id), so one member's transitions keep their order. */
  orderKey(fields: string[]): string
  /** Runs the handlers of one item; throws to have the item retried. */
  handle(entry: ReaderEntry): Promise<void>
  /** Describes the dead letter of an item that failed every attempt (field/value pairs). */
  onDead(entry: ReaderEntry, error: unknown): string[]
  /** Called once the dead letter is stored (and the entry acknowledged). */
  afterDead?(entry: ReaderEntry, error: unknown): void
  /** Where the reader's errors go, scrubbed RedkitErrors named after the owner (E_CLOSED after close is dropped). */
  onError(error: RedkitError): void
}
