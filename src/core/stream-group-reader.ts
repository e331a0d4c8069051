import { randomBytes } from 'node:crypto'
import { withTimeout } from './async.js'
import { BlockingConnection } from './blocking.js'
import { sleep, type Timer } from './clock.js'
import { Component } from './component.js'
import type { Connection } from './connection.js'
import { defineScript } from './scripts.js'
import type { StreamGroupReaderOptions } from './stream-group-options.js'
import { StreamItemRunner } from './stream-item-runner.js'
import { entriesOf, type StreamEntry } from './stream-reply.js'
import { takeOver } from './stream-takeover.js'

export type { ReaderEntry, StreamGroupReaderOptions } from './stream-group-options.js'

const createScript = defineScript<
  [stream: string, registry: string],
  [group: string, from: 'new' | 'retained', lost: '0' | '1', youngMs: number, temporary: '0' | '1'],
  number
>('stream-group-create')
const extendScript = defineScript<[stream: string], string[], number>('stream-extend')

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
export class StreamGroupReader extends Component {
  readonly consumer = `c-${randomBytes(6).toString('hex')}`
  readonly #connection: Connection
  readonly #options: StreamGroupReaderOptions
  readonly #items: StreamItemRunner
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
  #extender: Timer | undefined
  /** Items dispatched and not settled yet (waiting for their lane or a slot, or running). */
  #load = 0
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

  /** Closed by its owner (no host): `close()` stops reading, as `stop()` does. */
  constructor(connection: Connection, options: StreamGroupReaderOptions) {
    super({
      name: options.name ?? options.group,
      kind: options.kind ?? 'stream group',
      scrubber: connection.scrubber,
      clock: options.clock,
      errors: (error) => options.onError(error),
    })
    this.#connection = connection
    this.#options = options
    this.#items = new StreamItemRunner(
      connection,
      options,
      { running: () => this.#running, settled: (n) => this.#settle(n), report: (error) => this.report(error) },
      this.clock,
    )
  }

  get group(): string {
    return this.#options.group
  }

  async start(): Promise<void> {
    this.assertOpen()
    await this.#createGroup(false)
    this.#blocking = new BlockingConnection(this.#connection)
    this.#running = true
    this.#lastReclaim = this.clock.now()
    const every = Math.max(50, Math.floor(this.#options.reclaimIdleMs / 3))
    this.#extender = this.clock.setInterval(() => this.#extend(), every)
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
        if (this.clock.now() - this.#lastReclaim >= this.#options.reclaimIdleMs / 2) {
          this.#lastReclaim = this.clock.now()
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
        this.report(error)
        this.#ownFrom = '0'
        await sleep(250, undefined, this.clock)
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

  /** Takes over what consumers that died left pending (as much as the free slots hold). */
  async #reclaim(): Promise<void> {
    const room = () => Math.max(1, Math.ceil((this.#options.concurrency - this.#load) / this.#itemsPerEntry))
    for (const [streamId, fields] of await takeOver(this.#connection, this.#options, this.consumer, room))
      this.#dispatch(streamId, fields, true)
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
      if (redelivered && items > 0) failed = await this.#items.failures(streamId, items)
    } catch (error) {
      // Unknown counts: leave the entry pending, to be taken over later.
      this.report(error)
      this.#settle(items)
      this.#held.delete(streamId)
      return
    }
    const outcomes =
      items === 1
        ? [await this.#items.run({ streamId, fields, item: 0, attempt: 1 }, items, failed[0] ?? 0)]
        : await Promise.all(
            Array.from({ length: items }, (_, item) => this.#items.run({ streamId, fields, item, attempt: 1 }, items, failed[item] ?? 0)),
          )
    if (outcomes.includes('pending') || outcomes[0] === 'acked') {
      this.#held.delete(streamId)
      return
    }
    const forget = items > 1 ? outcomes.flatMap((o, item) => (o === 'dead' ? [this.#items.field(streamId, item, items)] : [])) : []
    this.#ack(streamId, forget)
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
        this.report(error)
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
      .catch((error) => this.report(error))
  }

  /**
   * Stops reading. Entries this consumer already holds get one more attempt and are acknowledged
   * when it succeeds; the consumer leaves the group unless it still holds some (which another
   * consumer then takes over).
   */
  stop(): Promise<void> {
    return this.close()
  }

  protected override async teardown(): Promise<void> {
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
    this.clock.clearInterval(this.#extender)
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
      this.report(error)
    }
  }
}
