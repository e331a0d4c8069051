import { type BackoffOptions, backoffDelay, sleep } from '../core/backoff.js'
import type { Codec } from '../core/codec.js'
import type { Connection } from '../core/connection.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { type ReaderEntry, StreamGroupReader } from '../core/stream-group-reader.js'
import type { ExpiryKeys } from './expiry-keys.js'
import type { DeadLetter, ExpiryEvent, ExpiryHandler } from './types.js'

export interface GroupHandler {
  pattern: RegExp
  handler: ExpiryHandler
  withValue: boolean
}

export interface GroupReaderOptions {
  attempts: number
  backoff: BackoffOptions
  concurrency: number
  from: 'new' | 'retained'
  reclaimIdleMs: number
  maxDeadLetters: number
  onError(error: unknown): void
  onDead(letter: DeadLetter): void
}

/** One event of a batch entry: field = key, value = deadline, or deadline|kept value. */
interface Pending {
  key: string
  deadline: number
  kept: string | undefined
}

/**
 * One consumer of one group of the expiry stream. Each stream entry is a sweep's batch of events;
 * the shared StreamGroupReader reads, acknowledges and takes over entries of dead consumers, and
 * this class runs the handlers of each event, retrying and dead-lettering events one by one, so a
 * failing event never replays its neighbours.
 */
export class GroupReader {
  readonly group: string
  readonly handlers = new Set<GroupHandler>()
  readonly #connection: Connection
  readonly #keys: ExpiryKeys
  readonly #codec: Codec
  readonly #options: GroupReaderOptions
  readonly #reader: StreamGroupReader
  #stopping = false
  #lane = 0

  constructor(connection: Connection, keys: ExpiryKeys, codec: Codec, group: string, options: GroupReaderOptions) {
    this.#connection = connection
    this.#keys = keys
    this.#codec = codec
    this.group = group
    this.#options = options
    this.#reader = new StreamGroupReader(connection, {
      stream: keys.stream,
      dead: keys.dead,
      group,
      from: options.from,
      // Whole-entry redelivery only happens when a consumer died holding it: count those deliveries,
      // so a batch that keeps killing its consumers ends in the dead letters.
      attempts: options.attempts,
      backoff: options.backoff,
      concurrency: 4,
      reclaimIdleMs: options.reclaimIdleMs,
      maxDeadLetters: options.maxDeadLetters,
      readCount: 16,
      // Batches carry no ordering between them.
      orderKey: () => String(this.#lane++),
      handle: (entry) => this.#handleEntry(entry),
      onDead: (entry, error) => ['entry', entry.streamId, 'g', group, 'e', error instanceof Error ? error.message : String(error)],
      onError: options.onError,
    })
  }

  start(): Promise<void> {
    return this.#reader.start()
  }

  async stop(): Promise<void> {
    this.#stopping = true
    await this.#reader.stop()
  }

  async #handleEntry(entry: ReaderEntry): Promise<void> {
    const events: Pending[] = []
    const { fields } = entry
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const key = fields[i] as string
      const value = fields[i + 1] as string
      const bar = value.indexOf('|')
      const deadline = Number(bar === -1 ? value : value.slice(0, bar))
      if (!Number.isFinite(deadline)) {
        this.#options.onError(
          new RedkitError(ErrorCodes.E_DECODE, `malformed expiry event for ${key} in ${this.#keys.stream} (${entry.streamId})`),
        )
        continue
      }
      events.push({ key, deadline, kept: bar === -1 ? undefined : value.slice(bar + 1) })
    }
    let next = 0
    let interrupted = false
    const worker = async () => {
      while (next < events.length) {
        if (!(await this.#handleEvent(events[next++] as Pending, entry.attempt))) interrupted = true
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, events.length) }, worker))
    // Stopping in the middle of a retry: leave the entry pending; whoever takes it over re-runs it
    // (the events already handled then arrive again, with the same ids).
    if (interrupted) throw new RedkitError(ErrorCodes.E_CLOSED, 'stopped while retrying an expiry handler')
  }

  /** False when stopping interrupted its retries. */
  async #handleEvent(pending: Pending, entryAttempt: number): Promise<boolean> {
    const { key, deadline } = pending
    const matching: GroupHandler[] = []
    for (const h of this.handlers) if (h.pattern.test(key)) matching.push(h)
    if (matching.length === 0) return true
    const id = `${key}@${deadline}`
    let value: unknown
    let valueError: RedkitError | undefined
    if (pending.kept !== undefined && matching.some((h) => h.withValue)) {
      if (pending.kept.startsWith('r')) value = pending.kept.slice(1)
      else {
        try {
          value = this.#codec.decode(pending.kept.slice(1))
        } catch (error) {
          valueError = error as RedkitError
          this.#options.onError(error)
        }
      }
    }
    const { attempts } = this.#options
    let lastError: unknown
    for (let attempt = Math.max(1, entryAttempt); attempt <= attempts; attempt++) {
      const firedAt = Date.now()
      try {
        for (const h of matching) {
          const event: ExpiryEvent = { id, key, deadline, firedAt, lateMs: firedAt - deadline, attempt, mode: 'reliable' }
          if (h.withValue) {
            event.value = value
            if (valueError) event.valueError = valueError
          }
          await h.handler(event)
        }
        return true
      } catch (error) {
        lastError = error
        if (attempt < attempts) {
          if (this.#stopping) return false
          await sleep(backoffDelay(attempt, this.#options.backoff))
        }
      }
    }
    const letter: DeadLetter = {
      id,
      key,
      deadline,
      group: this.group,
      error: lastError instanceof Error ? lastError.message : String(lastError),
      attempts,
      at: Date.now(),
    }
    const { dead } = this.#keys
    await this.#connection.send(
      [
        'XADD',
        dead,
        'MAXLEN',
        '~',
        String(this.#options.maxDeadLetters),
        '*',
        'id',
        id,
        'k',
        key,
        'd',
        String(deadline),
        'g',
        this.group,
        'e',
        letter.error,
        'n',
        String(attempts),
      ],
      { key: dead },
    )
    this.#options.onDead(letter)
    return true
  }
}
