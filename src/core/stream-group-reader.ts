import { randomBytes } from 'node:crypto'
import { withTimeout } from './async.js'
import { type BackoffOptions, backoffDelay, sleep } from './backoff.js'
import { BlockingConnection } from './blocking.js'
import type { Connection } from './connection.js'
import { defineScript } from './scripts.js'
import { entriesOf, type StreamEntry } from './stream-reply.js'

const deadScript = defineScript<[stream: string, dead: string, failures: string], string[], number>('stream-dead')
const createScript = defineScript<
  [stream: string, registry: string],
  [group: string, from: 'new' | 'retained', lost: '0' | '1', youngMs: number, temporary: '0' | '1'],
  number
>('stream-group-create')
const extendScript = defineScript<[stream: string], string[], number>('stream-extend')

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
type Outcome = 'done' | 'dead' | 'acked' | 'pending'

/** Marks an item of a several-item entry as dead-lettered in `failures` (its entry is acknowledged later). */
const DEAD_MARK = 'dead'

export interface StreamGroupReaderOptions {
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
  onError(error: unknown): void
}

const READ_COUNT = 500
/** How long stop() tries to hand back what it holds before it leaves it pending. */
const STOP_BOUND_MS = 2000
const BLOCK_MS = 1000

/**
 * One consumer of one consumer group of a stream (presence transitions, expiry events): a blocking
 * XREADGROUP on a dedicated connection that reads only about as many items as there are free
 * handler slots; each item handled, retried with backoff and dead-lettered after the last attempt
 * on its own; an entry acknowledged as soon as its items are settled (acknowledgements of one tick
 * share one XACK); entries this consumer still holds kept fresh while it works, so only entries of a
 * consumer that died are taken over (after `reclaimIdleMs`). Delivery is at least once per group.
 */
export class StreamGroupReader {
  readonly consumer = `c-${randomBytes(6).toString('hex')}`
  readonly #connection: Connection
  readonly #options: StreamGroupReaderOptions
  #blocking: BlockingConnection | undefined
  #running = false
  #loop: Promise<void> | undefined
  #lastReclaim = 0
  /** Entries read and not yet acknowledged or left pending. */
  readonly #held = new Set<string>()
  #acks: string[] = []
  /** Failure fields (dead-lettered items) forgotten with the next XACK. */
  #forgets: string[] = []
  #acking: Promise<void> | undefined
  #extender: NodeJS.Timeout | undefined
  /** Items dispatched and not settled yet (waiting for their lane or a slot, or running). */
  #load = 0
  /** Items holding a handler slot (at most `concurrency`). */
  #busy = 0
  /** Items waiting for a slot, first come first served (a queue with a moving head). */
  #waiting: Array<() => void> = []
  #waitingHead = 0
  #slotFreed: (() => void) | undefined
  /**
   * Set when a read failed: its reply may have been lost after Redis delivered the entries to this
   * consumer (a cut or a dead node), so they sit in its own pending list. They are read back from
   * there (from this id on) before new ones, instead of waiting `reclaimIdleMs` to be taken over.
   */
  #ownFrom: string | undefined
  /** Items per entry of the last read: how many entries fill the free slots. */
  #itemsPerEntry = 1
  /** The last entry started per order key: the next one of that key waits for it. */
  readonly #lanes = new Map<string, Promise<void>>()

  constructor(connection: Connection, options: StreamGroupReaderOptions) {
    this.#connection = connection
    this.#options = options
  }

  get group(): string {
    return this.#options.group
  }

  async start(): Promise<void> {
    await this.#createGroup(false)
    this.#blocking = new BlockingConnection(this.#connection)
    this.#running = true
    this.#lastReclaim = Date.now()
    const every = Math.max(50, Math.floor(this.#options.reclaimIdleMs / 3))
    this.#extender = setInterval(() => this.#extend(), every)
    this.#extender.unref()
    this.#loop = this.#run()
  }

  async #createGroup(lost: boolean): Promise<void> {
    const { stream, group, from, registry } = this.#options
    if (registry) {
      await createScript.run(
        this.#connection,
        [stream, registry],
        [group, from, lost ? '1' : '0', this.#options.youngStateMs ?? 86_400_000, this.#options.temporary ? '1' : '0'],
      )
      return
    }
    try {
      await this.#connection.send(['XGROUP', 'CREATE', stream, group, from === 'retained' || lost ? '0' : '$', 'MKSTREAM'], { key: stream })
    } catch (error) {
      if (!(error instanceof Error && /BUSYGROUP/.test(error.message))) throw error
    }
  }

  async #run(): Promise<void> {
    const { concurrency } = this.#options
    while (this.#running) {
      try {
        if (this.#load >= concurrency) {
          // Every slot is taken: read again once an item settles, not before.
          await new Promise<void>((resolve) => {
            this.#slotFreed = resolve
          })
          continue
        }
        const free = concurrency - this.#load
        const wanted = Math.min(this.#options.readCount ?? READ_COUNT, Math.max(1, Math.ceil(free / this.#itemsPerEntry)))
        if (this.#ownFrom !== undefined) {
          await this.#readOwn(wanted)
          continue
        }
        const entries = entriesOf(await this.#read(wanted))
        let items = 0
        for (const [streamId, fields] of entries) items += this.#dispatch(streamId, fields, false)
        if (entries.length > 0) this.#itemsPerEntry = Math.max(1, items / entries.length)
        if (Date.now() - this.#lastReclaim >= this.#options.reclaimIdleMs / 2) {
          this.#lastReclaim = Date.now()
          await this.#reclaim()
        }
      } catch (caught) {
        if (!this.#running) break
        let error = caught
        if (error instanceof Error && /NOGROUP/.test(error.message)) {
          // The stream's state is gone (restart without persistence, FLUSHDB, eviction): without a
          // group no event would ever arrive again. What it held unacknowledged is lost; say so once.
          try {
            await this.#createGroup(true)
            this.#held.clear()
            this.#options.onReset?.()
            continue
          } catch (again) {
            error = again
          }
        }
        this.#options.onError(error)
        this.#ownFrom = '0'
        await sleep(250)
      }
    }
  }

  /**
   * One page of this consumer's own pending list, from `#ownFrom`: the entries it does not hold
   * (their read reply was lost) start again, as redelivered ones (a handler that failed before
   * still counts its attempts). The last page ends the recovery.
   */
  async #readOwn(count: number): Promise<void> {
    const { stream, group } = this.#options
    const page = Math.max(count, 100)
    const reply = await this.#connection.send(
      ['XREADGROUP', 'GROUP', group, this.consumer, 'COUNT', String(page), 'STREAMS', stream, this.#ownFrom as string],
      { key: stream },
    )
    const entries = entriesOf(reply)
    for (const [streamId, fields] of entries) {
      if (!this.#held.has(streamId)) this.#dispatch(streamId, fields, true)
    }
    const last = entries.at(-1)
    this.#ownFrom = entries.length < page || last === undefined ? undefined : last[0]
  }

  #read(count: number): Promise<unknown> {
    const { stream, group } = this.#options
    const args = ['XREADGROUP', 'GROUP', group, this.consumer, 'COUNT', String(count), 'BLOCK', String(BLOCK_MS), 'STREAMS', stream, '>']
    // A reply later than BLOCK plus a margin means a stalled connection: it is dropped and reopened.
    return (this.#blocking as BlockingConnection).call(args, stream, BLOCK_MS + 2000)
  }

  /**
   * Takes over entries another consumer of the group left unacknowledged for reclaimIdleMs (it died:
   * a live one keeps its entries fresh), and removes consumers that hold nothing and were idle as long.
   */
  async #reclaim(): Promise<void> {
    const { stream, group, reclaimIdleMs } = this.#options
    const pending = await this.#connection.send<unknown[]>(['XPENDING', stream, group, 'IDLE', String(reclaimIdleMs), '-', '+', '100'], {
      key: stream,
    })
    await this.#dropIdleConsumers()
    if (!Array.isArray(pending) || pending.length === 0) return
    const free = Math.max(1, Math.ceil((this.#options.concurrency - this.#load) / this.#itemsPerEntry))
    const ids = pending
      .filter((row): row is unknown[] => Array.isArray(row))
      .map((row) => String(row[0]))
      .slice(0, free)
    const claimed = entriesOf([
      [stream, await this.#connection.send(['XCLAIM', stream, group, this.consumer, String(reclaimIdleMs), ...ids], { key: stream })],
    ])
    for (const [streamId, fields] of claimed) this.#dispatch(streamId, fields, true)
  }

  /** Consumers of processes that died stay in the group forever otherwise. Deleting one that holds nothing loses nothing. */
  async #dropIdleConsumers(): Promise<void> {
    const { stream, group, reclaimIdleMs } = this.#options
    const rows = await this.#connection.send<unknown[]>(['XINFO', 'CONSUMERS', stream, group], { key: stream })
    if (!Array.isArray(rows)) return
    for (const row of rows) {
      const info = toRecord(row)
      if (info.name === undefined || info.name === this.consumer) continue
      if (Number(info.pending) === 0 && Number(info.idle) > reclaimIdleMs) {
        await this.#connection.send(['XGROUP', 'DELCONSUMER', stream, group, String(info.name)], { key: stream })
      }
    }
  }

  /** Starts an entry: after the previous entry of its order key, concurrently with other keys. @returns its items */
  #dispatch(streamId: string, fields: string[], redelivered: boolean): number {
    const items = this.#options.items ? Math.max(0, Math.floor(this.#options.items(fields))) : 1
    this.#held.add(streamId)
    this.#load += items
    const key = this.#options.orderKey(fields)
    const run = (this.#lanes.get(key) ?? Promise.resolve()).then(() => this.#process(streamId, fields, items, redelivered))
    this.#lanes.set(key, run)
    void run.finally(() => {
      if (this.#lanes.get(key) === run) this.#lanes.delete(key)
    })
    return items
  }

  /** Handles every item of an entry, then acknowledges it unless one stays pending. */
  async #process(streamId: string, fields: string[], items: number, redelivered: boolean): Promise<void> {
    let failed: Array<number | 'dead'> = []
    try {
      // Handler calls that failed before, in any consumer: a delivery cut short by a crash ran no
      // failing call, so it costs no attempt.
      if (redelivered && items > 0) failed = await this.#failures(streamId, items)
    } catch (error) {
      // Unknown counts: leave the entry pending, to be taken over later.
      this.#options.onError(error)
      this.#settle(items)
      this.#held.delete(streamId)
      return
    }
    const outcomes =
      items === 1
        ? [await this.#processItem({ streamId, fields, item: 0, attempt: 1 }, items, failed[0] ?? 0)]
        : await Promise.all(
            Array.from({ length: items }, (_, item) => this.#processItem({ streamId, fields, item, attempt: 1 }, items, failed[item] ?? 0)),
          )
    if (outcomes.includes('pending') || outcomes[0] === 'acked') {
      this.#held.delete(streamId)
      return
    }
    const forget = items > 1 ? outcomes.flatMap((o, item) => (o === 'dead' ? [this.#field(streamId, item, items)] : [])) : []
    this.#ack(streamId, forget)
  }

  /** Runs one item in a handler slot. */
  async #processItem(entry: ReaderEntry, items: number, failed: number | 'dead'): Promise<Outcome> {
    if (failed === DEAD_MARK) {
      // Dead-lettered by a consumer that died before its entry was acknowledged.
      this.#settle(1)
      return 'dead'
    }
    await this.#acquire()
    try {
      return await this.#handleItem(entry, items, failed)
    } catch (error) {
      // The dead letter could not be written: the entry stays pending and is taken over later.
      this.#options.onError(error)
      return 'pending'
    } finally {
      this.#release()
      this.#settle(1)
    }
  }

  #acquire(): Promise<void> {
    if (this.#busy < this.#options.concurrency) {
      this.#busy++
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  /** Hands the slot to the next waiting item, or frees it. */
  #release(): void {
    if (this.#waitingHead < this.#waiting.length) {
      const next = this.#waiting[this.#waitingHead] as () => void
      this.#waiting[this.#waitingHead++] = noop
      if (this.#waitingHead === this.#waiting.length) {
        this.#waiting = []
        this.#waitingHead = 0
      }
      next()
      return
    }
    this.#busy--
  }

  /** `n` items settled: the read loop may fetch more. */
  #settle(n: number): void {
    this.#load -= n
    const wake = this.#slotFreed
    this.#slotFreed = undefined
    wake?.()
  }

  /** Resolves once every entry started so far is settled and acknowledged. */
  async #drain(): Promise<void> {
    while (this.#lanes.size > 0) await Promise.allSettled([...this.#lanes.values()])
    await this.#acking
  }

  /** Acknowledges as entries settle; acknowledgements of one tick travel in one XACK. */
  #ack(streamId: string, forget: string[]): void {
    this.#acks.push(streamId)
    for (const field of forget) this.#forgets.push(field)
    this.#acking ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const ids = this.#acks
      const fields = this.#forgets
      this.#acks = []
      this.#forgets = []
      this.#acking = undefined
      try {
        const { stream, group, failures } = this.#options
        // The dead marks go first: a crash in between re-delivers the entry, and its dead-lettered
        // items get their attempts again (a second dead letter, never a lost event).
        if (fields.length > 0) await this.#connection.send(['HDEL', failures, ...fields], { key: failures })
        await this.#connection.send(['XACK', stream, group, ...ids], { key: stream })
      } catch (error) {
        // Still pending: handled again after reclaimIdleMs (at least once).
        this.#options.onError(error)
      } finally {
        for (const id of ids) this.#held.delete(id)
      }
    })
  }

  /** Resets the idle time of the entries still being handled, so that no peer takes them over. */
  #extend(): void {
    if (this.#held.size === 0 || !this.#running) return
    const ids = [...this.#held].slice(0, 1000)
    extendScript
      .run(this.#connection, [this.#options.stream], [this.#options.group, this.consumer, ...ids])
      .catch((error) => this.#options.onError(error))
  }

  /** The failures field of an item: entries of one item keep the field of the one-item format. */
  #field(streamId: string, item: number, items: number): string {
    return items === 1 ? `${streamId}/${this.#options.group}` : `${streamId}/${this.#options.group}/${item}`
  }

  /** The item's outcome; 'pending' when it stays pending (stopping). Throws when its dead letter could not be written. */
  async #handleItem(entry: ReaderEntry, items: number, failedBefore: number): Promise<Outcome> {
    const { attempts, backoff } = this.#options
    const field = this.#field(entry.streamId, entry.item, items)
    let failed = failedBefore
    let lastError: unknown = failed > 0 ? new Error(`failed ${failed} times before (error not kept)`) : undefined
    for (let attempt = failed + 1; attempt <= attempts; attempt++) {
      try {
        await this.#options.handle({ ...entry, attempt })
        if (failed > 0) await this.#forget(field)
        return 'done'
      } catch (error) {
        lastError = error
        failed = attempt
        await this.#countFailure(field)
        if (!this.#running) return 'pending'
        if (attempt < attempts) await sleep(backoffDelay(attempt, backoff))
      }
    }
    // One item: copied to the dead letters and acknowledged in one step. Several: copied and marked
    // dead, the entry acknowledged once its other items are settled.
    await deadScript.run(
      this.#connection,
      [this.#options.stream, this.#options.dead, this.#options.failures],
      [
        this.#options.group,
        entry.streamId,
        String(this.#options.maxDeadLetters),
        field,
        items === 1 ? '1' : '0',
        ...this.#options.onDead(entry, lastError),
      ],
    )
    this.#options.afterDead?.({ ...entry, attempt: attempts }, lastError)
    return items === 1 ? 'acked' : 'dead'
  }

  /** Failed calls per item before this delivery (or 'dead' for an item already dead-lettered). */
  async #failures(streamId: string, items: number): Promise<Array<number | 'dead'>> {
    const { failures } = this.#options
    const fields = Array.from({ length: items }, (_, item) => this.#field(streamId, item, items))
    const counts =
      items === 1
        ? [await this.#connection.send<string | null>(['HGET', failures, fields[0] as string], { key: failures })]
        : await this.#connection.send<Array<string | null>>(['HMGET', failures, ...fields], { key: failures })
    return counts.map((n) => (n === DEAD_MARK ? DEAD_MARK : Math.max(0, Math.floor(Number(n ?? 0)) || 0)))
  }

  async #countFailure(field: string): Promise<void> {
    const { failures } = this.#options
    await this.#connection.send(['HINCRBY', failures, field, '1'], { key: failures }).catch((error) => this.#options.onError(error))
  }

  async #forget(field: string): Promise<void> {
    const { failures } = this.#options
    await this.#connection.send(['HDEL', failures, field], { key: failures }).catch((error) => this.#options.onError(error))
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
    const wake = this.#slotFreed
    this.#slotFreed = undefined
    wake?.()
    await this.#loop
    await this.#drain()
    clearInterval(this.#extender)
    // Bounded: with Redis unreachable, what this consumer holds stays pending for another one.
    await withTimeout(
      () => this.#leave(),
      STOP_BOUND_MS,
      () => undefined,
    )
  }

  async #leave(): Promise<void> {
    const { stream, group } = this.#options
    try {
      const own = entriesOf(
        await this.#connection.send(
          ['XREADGROUP', 'GROUP', group, this.consumer, 'COUNT', String(this.#options.readCount ?? READ_COUNT), 'STREAMS', stream, '0'],
          { key: stream },
        ),
      )
      // One attempt each while stopping: an entry whose handler fails stays pending, and another
      // consumer of the group takes it over after reclaimIdleMs (no backoff, no dead letter on close).
      for (const [streamId, fields] of own as StreamEntry[]) this.#dispatch(streamId, fields, true)
      await this.#drain()
      if (this.#options.temporary && this.#options.registry) {
        // A group of its own: nobody else reads it, so nothing it holds is needed any more.
        await this.#connection.send(['XGROUP', 'DESTROY', stream, group], { key: stream })
        await this.#connection.send(['HDEL', this.#options.registry, group], { key: this.#options.registry })
        return
      }
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

function noop(): void {}

/** XINFO rows: flat field/value arrays (RESP2) or maps (RESP3). */
function toRecord(row: unknown): Record<string, unknown> {
  if (row instanceof Map) return Object.fromEntries(row)
  if (Array.isArray(row)) {
    const out: Record<string, unknown> = {}
    for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = row[i + 1]
    return out
  }
  return typeof row === 'object' && row !== null ? (row as Record<string, unknown>) : {}
}
