import { randomBytes } from 'node:crypto'
import { type BackoffOptions, backoffDelay, sleep } from './backoff.js'
import { BlockingConnection } from './blocking.js'
import type { Connection } from './connection.js'
import { defineScript } from './scripts.js'
import { entriesOf, type StreamEntry } from './stream-reply.js'

const deadScript = defineScript<[stream: string, dead: string], string[], number>('stream-dead')
/** What the reader hands over: one stream entry, with how many times it was delivered. */
export interface ReaderEntry {
  streamId: string
  fields: string[]
  attempt: number
}

export interface StreamGroupReaderOptions {
  stream: string
  /** Dead letters: an entry that failed every attempt is copied here and acknowledged in one script. */
  dead: string
  group: string
  from: 'new' | 'retained'
  attempts: number
  backoff: BackoffOptions
  /** Entries handled at once; entries with the same `orderKey` are always handled one after the other, in stream order. */
  concurrency: number
  reclaimIdleMs: number
  maxDeadLetters: number
  /** Entries fetched per read. @defaultValue 500 */
  readCount?: number
  /** The order key of an entry (presence: the member id), so one member's transitions keep their order. */
  orderKey(fields: string[]): string
  /** Runs the handlers; throws to have the entry retried. */
  handle(entry: ReaderEntry): Promise<void>
  /** Describes the dead letter of an entry that failed every attempt (field/value pairs). */
  onDead(entry: ReaderEntry, error: unknown): string[]
  /** Called once the dead letter is stored (and the entry acknowledged). */
  afterDead?(entry: ReaderEntry, error: unknown): void
  onError(error: unknown): void
}

const READ_COUNT = 500
const BLOCK_MS = 1000

/**
 * One consumer of one consumer group of a stream (presence transitions, expiry batches): a blocking XREADGROUP on a
 * dedicated connection, handlers run and the entry acknowledged after they resolve, retries with
 * backoff, a dead letter after the last attempt, and entries left pending by a consumer that died
 * taken over after `reclaimIdleMs`. Delivery is at least once per group.
 */
export class StreamGroupReader {
  readonly consumer = `c-${randomBytes(6).toString('hex')}`
  readonly #connection: Connection
  readonly #options: StreamGroupReaderOptions
  #blocking: BlockingConnection | undefined
  #running = false
  #loop: Promise<void> | undefined
  #lastReclaim = 0

  constructor(connection: Connection, options: StreamGroupReaderOptions) {
    this.#connection = connection
    this.#options = options
  }

  get group(): string {
    return this.#options.group
  }

  async start(): Promise<void> {
    const { stream, group, from } = this.#options
    try {
      await this.#connection.send(['XGROUP', 'CREATE', stream, group, from === 'retained' ? '0' : '$', 'MKSTREAM'], { key: stream })
    } catch (error) {
      if (!(error instanceof Error && /BUSYGROUP/.test(error.message))) throw error
    }
    this.#blocking = new BlockingConnection(this.#connection)
    this.#running = true
    this.#lastReclaim = Date.now()
    this.#loop = this.#run()
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        const entries = entriesOf(await this.#read())
        if (entries.length > 0) await this.#handleBatch(entries.map(([streamId, fields]) => ({ streamId, fields, attempt: 1 })))
        if (Date.now() - this.#lastReclaim >= this.#options.reclaimIdleMs / 2) {
          this.#lastReclaim = Date.now()
          await this.#reclaim()
        }
      } catch (error) {
        if (!this.#running) break
        this.#options.onError(error)
        await sleep(250)
      }
    }
  }

  #read(): Promise<unknown> {
    const { stream, group } = this.#options
    const args = [
      'XREADGROUP',
      'GROUP',
      group,
      this.consumer,
      'COUNT',
      String(this.#options.readCount ?? READ_COUNT),
      'BLOCK',
      String(BLOCK_MS),
      'STREAMS',
      stream,
      '>',
    ]
    // A reply later than BLOCK plus a margin means a stalled connection: it is dropped and reopened.
    return (this.#blocking as BlockingConnection).call(args, stream, BLOCK_MS + 2000)
  }

  /** Takes over entries another consumer of the group left unacknowledged for reclaimIdleMs (it died). */
  async #reclaim(): Promise<void> {
    const { stream, group, reclaimIdleMs } = this.#options
    const pending = await this.#connection.send<unknown[]>(['XPENDING', stream, group, 'IDLE', String(reclaimIdleMs), '-', '+', '100'], {
      key: stream,
    })
    if (!Array.isArray(pending) || pending.length === 0) return
    const deliveries = new Map<string, number>()
    for (const row of pending) if (Array.isArray(row)) deliveries.set(String(row[0]), Number(row[3]))
    const claimed = entriesOf([
      [
        stream,
        await this.#connection.send(['XCLAIM', stream, group, this.consumer, String(reclaimIdleMs), ...deliveries.keys()], { key: stream }),
      ],
    ])
    // XCLAIM counted one more delivery.
    await this.#handleBatch(claimed.map(([streamId, fields]) => ({ streamId, fields, attempt: (deliveries.get(streamId) ?? 0) + 1 })))
  }

  /** Runs a batch: entries of one order key in sequence, different keys concurrently; then one XACK. */
  async #handleBatch(entries: ReaderEntry[]): Promise<void> {
    const lanes = new Map<string, ReaderEntry[]>()
    for (const entry of entries) {
      const key = this.#options.orderKey(entry.fields)
      const lane = lanes.get(key)
      if (lane) lane.push(entry)
      else lanes.set(key, [entry])
    }
    const queue = [...lanes.values()]
    const acks: string[] = []
    let next = 0
    const worker = async () => {
      while (next < queue.length) {
        const lane = queue[next++] as ReaderEntry[]
        for (const entry of lane) {
          if (await this.#handleEntry(entry)) acks.push(entry.streamId)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, queue.length) }, worker))
    if (acks.length > 0)
      await this.#connection.send(['XACK', this.#options.stream, this.#options.group, ...acks], { key: this.#options.stream })
  }

  /** True when the entry is to be acknowledged; false when it stays pending (stopping) or was dead-lettered. */
  async #handleEntry(entry: ReaderEntry): Promise<boolean> {
    const { attempts, backoff } = this.#options
    let lastError: unknown
    for (let attempt = Math.max(1, entry.attempt); attempt <= attempts; attempt++) {
      try {
        await this.#options.handle({ ...entry, attempt })
        return true
      } catch (error) {
        lastError = error
        if (!this.#running) return false
        if (attempt < attempts) await sleep(backoffDelay(attempt, backoff))
      }
    }
    // Copied to the dead letters and acknowledged in one step.
    await deadScript.run(
      this.#connection,
      [this.#options.stream, this.#options.dead],
      [this.#options.group, entry.streamId, String(this.#options.maxDeadLetters), ...this.#options.onDead(entry, lastError)],
    )
    this.#options.afterDead?.(entry, lastError)
    return false
  }

  /**
   * Stops reading. Entries this consumer already holds get one more attempt and are acknowledged
   * when it succeeds; the consumer leaves the group unless it still holds some (which another
   * consumer then takes over).
   */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    const blocking = this.#blocking
    this.#blocking = undefined
    // Cut the blocking read now rather than wait for BLOCK to time out.
    blocking?.close()
    await this.#loop
    const { stream, group } = this.#options
    try {
      const own = entriesOf(
        await this.#connection.send(
          ['XREADGROUP', 'GROUP', group, this.consumer, 'COUNT', String(this.#options.readCount ?? READ_COUNT), 'STREAMS', stream, '0'],
          {
            key: stream,
          },
        ),
      )
      // One attempt each while stopping: an entry whose handler fails stays pending, and another
      // consumer of the group takes it over after reclaimIdleMs (no backoff, no dead letter on close).
      if (own.length > 0) await this.#handleBatch(own.map(([streamId, fields]: StreamEntry) => ({ streamId, fields, attempt: 1 })))
      // Leave no consumer behind, unless it still holds entries (deleting it would drop them).
      const held = await this.#connection.send<unknown[]>(['XPENDING', stream, group, '-', '+', '1', this.consumer], { key: stream })
      if (Array.isArray(held) && held.length === 0) {
        await this.#connection.send(['XGROUP', 'DELCONSUMER', stream, group, this.consumer], { key: stream })
      }
    } catch (error) {
      this.#options.onError(error)
    }
  }
}
