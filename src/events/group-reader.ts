import type { BackoffOptions } from '../core/backoff.js'
import type { Codec } from '../core/codec.js'
import { Component } from '../core/component.js'
import type { Connection } from '../core/connection.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { type ReaderEntry, StreamGroupReader } from '../core/stream-group-reader.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import type { ExpiryKeys } from './expiry-keys.js'
import type { DeadLetter, ExpiryEvent, ExpiryHandler } from './types.js'
import { DEAD_FIELD, EVENT_FIELD, VALUE_RAW } from './wire.js'

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
}

/**
 * One consumer of one group of the expiry stream. Each stream entry is one event: the shared
 * StreamGroupReader reads it, runs the matching handlers, acknowledges it as soon as they resolve,
 * retries and dead-letters it on its own, and keeps it from being taken over while it runs.
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

  #stored(entry: ReaderEntry): Stored[] {
    const { fields } = entry
    if (fields[0] === EVENT_FIELD.key) {
      const f = fieldsToRecord(fields)
      const key = f[EVENT_FIELD.key]
      const deadline = Number(f[EVENT_FIELD.deadline])
      if (key !== undefined && Number.isFinite(deadline)) return [{ streamId: entry.streamId, key, deadline, kept: f[EVENT_FIELD.value] }]
    } else {
      // Written by an earlier version: one entry per sweep (field = key, value = deadline or deadline|kept).
      const out: Stored[] = []
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const value = fields[i + 1] as string
        const bar = value.indexOf('|')
        const deadline = Number(bar === -1 ? value : value.slice(0, bar))
        if (Number.isFinite(deadline))
          out.push({ streamId: entry.streamId, key: fields[i] as string, deadline, kept: bar === -1 ? undefined : value.slice(bar + 1) })
      }
      if (out.length > 0) return out
    }
    this.report(new RedkitError(ErrorCodes.E_DECODE, `malformed expiry event in ${this.#keys.stream} (${entry.streamId})`))
    return []
  }

  async #handle(entry: ReaderEntry): Promise<void> {
    for (const stored of this.#stored(entry)) await this.#handleEvent(stored, entry.attempt)
  }

  /** A value kept aside (v = ''): read from the values stream; gone once every group acknowledged the event or it left the retention. */
  async #keptValue(streamId: string): Promise<string | undefined> {
    const stream = this.#keys.eventValues
    const reply = await this.#connection.send(['XRANGE', stream, streamId, streamId], { key: stream })
    const found = entriesOf([[stream, reply]])[0]
    return found ? fieldsToRecord(found[1])[EVENT_FIELD.value] : undefined
  }

  async #handleEvent({ streamId, key, deadline, kept: stored }: Stored, attempt: number): Promise<void> {
    const matching: GroupHandler[] = []
    for (const h of this.handlers) if (h.pattern.test(key)) matching.push(h)
    if (matching.length === 0) return
    let value: unknown
    let valueError: RedkitError | undefined
    const wanted = matching.some((h) => h.withValue)
    const kept = wanted && stored === '' ? await this.#keptValue(streamId) : stored
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
    const first = this.#stored(entry)[0]
    const key = first?.key ?? ''
    const deadline = first?.deadline ?? Number.NaN
    return {
      id: `${key}@${deadline}`,
      key,
      deadline,
      group: this.group,
      error: error instanceof Error ? error.message : String(error),
      attempts: this.#options.attempts,
      at: Date.now(),
    }
  }
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
