import type { BackoffOptions } from '../core/backoff.js'
import type { Codec } from '../core/codec.js'
import { Component } from '../core/component.js'
import type { Connection } from '../core/connection.js'
import { ErrorCodes, RedkitError, thrownText } from '../core/errors.js'
import { type ReaderEntry, StreamGroupReader } from '../core/stream-group-reader.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import type { ExpiryKeys } from './expiry-keys.js'
import type { DeadLetter, ExpiryEvent, ExpiryHandler } from './types.js'
import { BATCH_FIELD, BATCH_FORMAT, DEAD_FIELD, EVENT_FIELD, VALUE_RAW } from './wire.js'

export interface GroupHandler {
  pattern: RegExp
  handler: ExpiryHandler
  withValue: boolean
}

/** The options a group is read with; a second subscription of the group must agree with them. */
export interface GroupSettings {
  attempts: number
  backoff: BackoffOptions
  concurrency: number
  from: 'new' | 'retained'
  temporary: boolean
}

export interface GroupReaderOptions extends GroupSettings {
  reclaimIdleMs: number
  /** How long after Redis lost its data new groups start at the stream's beginning (the retention). */
  youngStateMs: number
  maxDeadLetters: number
  /** Server clock minus local clock, as the sweeper (or a TIME at start) learnt it: lateness is on the server clock. */
  offsetMs(): number
  onError(error: unknown): void
  onDead(letter: DeadLetter): void
  onReset(group: string): void
}

/** One event as stored: key, deadline, kept value. */
interface Stored {
  streamId: string
  key: string
  deadline: number
  /** The kept value; '' when it is kept aside in the values stream under `streamId`. */
  kept: string | undefined
  /** Field of a value kept aside: the event's position in its entry (from 1), or 'v' (one event per entry). */
  valueField: string
}

/**
 * One consumer of one group of the expiry stream. A stream entry carries the events of one sweep
 * batch (up to EVENTS_PER_ENTRY): the shared StreamGroupReader reads it, runs the matching
 * handlers of each event in a slot of its own (`concurrency` at once), retries and dead-letters
 * each event on its own, acknowledges the entry once all its events are settled, and keeps it from
 * being taken over while they run.
 */
export class GroupReader extends Component {
  readonly group: string
  readonly settings: GroupSettings
  readonly handlers = new Set<GroupHandler>()
  readonly #keys: ExpiryKeys
  readonly #codec: Codec
  readonly #options: GroupReaderOptions
  readonly #reader: StreamGroupReader
  readonly #connection: Connection
  #lane = 0
  /** The events of each entry read, parsed once (keyed by the entry's field list). */
  readonly #parsed = new WeakMap<string[], Stored[]>()
  /** The kept values of an entry, read once for all its events (keyed likewise). */
  readonly #values = new WeakMap<string[], Promise<Record<string, string>>>()

  constructor(connection: Connection, keys: ExpiryKeys, codec: Codec, group: string, options: GroupReaderOptions) {
    // Closed by its Expirations (no host); errors go to the Expirations' sink.
    super({ name: group, kind: 'expiry group', scrubber: connection.scrubber, errors: (error) => options.onError(error) })
    this.#keys = keys
    this.#codec = codec
    this.#connection = connection
    this.group = group
    this.#options = options
    this.settings = {
      attempts: options.attempts,
      backoff: options.backoff,
      concurrency: options.concurrency,
      from: options.from,
      temporary: options.temporary,
    }
    this.#reader = new StreamGroupReader(connection, {
      kind: 'expiry group',
      name: group,
      stream: keys.stream,
      dead: keys.dead,
      registry: keys.groups,
      failures: keys.failures,
      youngStateMs: options.youngStateMs,
      group,
      from: options.from,
      temporary: options.temporary,
      attempts: options.attempts,
      backoff: options.backoff,
      concurrency: options.concurrency,
      reclaimIdleMs: options.reclaimIdleMs,
      maxDeadLetters: options.maxDeadLetters,
      readCount: Math.max(64, options.concurrency * 4),
      // Expiry events carry no order between them: each is a lane of its own.
      orderKey: () => String(this.#lane++),
      items: (fields) => this.#events(fields).length,
      handle: (entry) => this.#handle(entry),
      onDead: (entry, error) => deadFields(this.#letter(entry, error)),
      afterDead: (entry, error) => options.onDead(this.#letter(entry, error)),
      onReset: () => options.onReset(group),
      onError: (error) => this.report(error),
    })
  }

  start(): Promise<void> {
    this.assertOpen()
    return this.#reader.start()
  }

  /** Stops reading; what it holds is handled (or left pending for another consumer) first. */
  stop(): Promise<void> {
    return this.close()
  }

  protected override teardown(): Promise<void> {
    return this.#reader.stop()
  }

  /** The events of an entry (parsed on first use; none for a malformed entry, which is reported). */
  #events(fields: string[], streamId = ''): Stored[] {
    let events = this.#parsed.get(fields)
    if (!events) {
      events = parseEntry(streamId, fields)
      if (events.length === 0)
        this.report(new RedkitError(ErrorCodes.E_DECODE, `malformed expiry event in ${this.#keys.stream} (${streamId || 'an entry'})`))
      this.#parsed.set(fields, events)
    }
    return events
  }

  async #handle(entry: ReaderEntry): Promise<void> {
    const stored = this.#events(entry.fields, entry.streamId)[entry.item]
    if (stored) await this.#handleEvent({ ...stored, streamId: entry.streamId }, entry.attempt, entry.fields)
  }

  /**
   * A value kept aside (v = ''): read from the values stream, once per entry; gone once every group
   * acknowledged the entry or it left the retention.
   */
  async #keptValue(streamId: string, fields: string[], field: string): Promise<string | undefined> {
    let values = this.#values.get(fields)
    if (!values) {
      const stream = this.#keys.eventValues
      values = this.#connection.send(['XRANGE', stream, streamId, streamId], { key: stream }).then((reply) => {
        const found = entriesOf([[stream, reply]])[0]
        return found ? fieldsToRecord(found[1]) : {}
      })
      // A failed read is tried again by the event's next attempt.
      values.catch(() => this.#values.delete(fields))
      this.#values.set(fields, values)
    }
    return (await values)[field]
  }

  async #handleEvent({ streamId, key, deadline, kept: stored, valueField }: Stored, attempt: number, fields: string[]): Promise<void> {
    const matching: GroupHandler[] = []
    for (const h of this.handlers) if (h.pattern.test(key)) matching.push(h)
    if (matching.length === 0) return
    let value: unknown
    let valueError: RedkitError | undefined
    const wanted = matching.some((h) => h.withValue)
    const kept = wanted && stored === '' ? await this.#keptValue(streamId, fields, valueField) : stored
    if (kept !== undefined && kept !== '' && wanted) {
      if (kept.startsWith(VALUE_RAW)) value = kept.slice(1)
      else {
        try {
          value = this.#codec.decode(kept.slice(1))
        } catch (error) {
          valueError = error as RedkitError
          this.report(error)
        }
      }
    }
    const id = `${key}@${deadline}`
    for (const h of matching) {
      const firedAt = Date.now()
      const event: ExpiryEvent = {
        id,
        key,
        deadline,
        firedAt,
        lateMs: firedAt + this.#options.offsetMs() - deadline,
        attempt,
        mode: 'reliable',
      }
      if (h.withValue) {
        event.value = value
        if (valueError) event.valueError = valueError
      }
      await h.handler(event)
    }
  }

  #letter(entry: ReaderEntry, error: unknown): DeadLetter {
    const first = this.#events(entry.fields, entry.streamId)[entry.item]
    const key = first?.key ?? ''
    const deadline = first?.deadline ?? Number.NaN
    return {
      id: `${key}@${deadline}`,
      key,
      deadline,
      group: this.group,
      error: thrownText(error),
      attempts: this.#options.attempts,
      at: Date.now(),
    }
  }
}

/**
 * The events of a stream entry: a batch ('' = 'b1', then key = deadline or deadline|, see the
 * event-value include), one event (k, d, v: written by the previous version), or the sweep batch of
 * the version before (key = deadline or deadline|kept value inline).
 */
function parseEntry(streamId: string, fields: string[]): Stored[] {
  if (fields[0] === EVENT_FIELD.key && fields[2] === EVENT_FIELD.deadline) {
    const f = fieldsToRecord(fields)
    const key = f[EVENT_FIELD.key]
    const deadline = Number(f[EVENT_FIELD.deadline])
    return key !== undefined && Number.isFinite(deadline)
      ? [{ streamId, key, deadline, kept: f[EVENT_FIELD.value], valueField: EVENT_FIELD.value }]
      : []
  }
  const out: Stored[] = []
  const batch = fields[0] === BATCH_FIELD && fields[1] === BATCH_FORMAT
  for (let i = batch ? 2 : 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1] as string
    const bar = value.indexOf('|')
    const deadline = Number(bar === -1 ? value : value.slice(0, bar))
    // Positions count every event of the entry, as the sweep numbered them.
    const position = batch ? String(i / 2) : ''
    if (Number.isFinite(deadline))
      out.push({ streamId, key: fields[i] as string, deadline, kept: bar === -1 ? undefined : value.slice(bar + 1), valueField: position })
  }
  return out
}

function deadFields(letter: DeadLetter): string[] {
  return [
    DEAD_FIELD.id,
    letter.id,
    DEAD_FIELD.key,
    letter.key,
    DEAD_FIELD.deadline,
    String(letter.deadline),
    DEAD_FIELD.group,
    letter.group,
    DEAD_FIELD.error,
    letter.error,
    DEAD_FIELD.attempts,
    String(letter.attempts),
  ]
}
