import { backoffDelay } from './backoff.js'
import { type Clock, sleep } from './clock.js'
import type { Connection } from './connection.js'
import { defineScript } from './scripts.js'
import { DEAD_MARK, type Outcome, type ReaderEntry, type StreamGroupReaderOptions } from './stream-group-options.js'

const deadScript = defineScript<[stream: string, dead: string, failures: string], string[], number>('stream-dead')

export interface ItemRunnerHooks {
  /** False once the reader stops: a failed item is then left pending instead of retried. */
  running(): boolean
  /** `n` items settled: the reader may read more. */
  settled(n: number): void
  report(error: unknown): void
}

/**
 * The life of one item of a stream entry once the reader dispatched it: a handler slot (at most
 * `concurrency`, first come first served), its handler calls with backoff, the failure count the
 * whole group shares (so a consumer that takes the entry over goes on counting), and its dead letter.
 */
export class StreamItemRunner {
  readonly #connection: Connection
  readonly #options: StreamGroupReaderOptions
  readonly #hooks: ItemRunnerHooks
  readonly #clock: Clock
  /** Items holding a handler slot (at most `concurrency`). */
  #busy = 0
  /** Items waiting for a slot, first come first served (a queue with a moving head). */
  #waiting: Array<() => void> = []
  #waitingHead = 0

  constructor(connection: Connection, options: StreamGroupReaderOptions, hooks: ItemRunnerHooks, clock: Clock) {
    this.#connection = connection
    this.#options = options
    this.#hooks = hooks
    this.#clock = clock
  }

  /** Runs one item in a handler slot. */
  async run(entry: ReaderEntry, items: number, failed: number | 'dead'): Promise<Outcome> {
    if (failed === DEAD_MARK) {
      // Dead-lettered by a consumer that died before its entry was acknowledged.
      this.#hooks.settled(1)
      return 'dead'
    }
    await this.#acquire()
    try {
      return await this.#handle(entry, items, failed)
    } catch (error) {
      // The dead letter could not be written: the entry stays pending and is taken over later.
      this.#hooks.report(error)
      return 'pending'
    } finally {
      this.#release()
      this.#hooks.settled(1)
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

  /** The failures field of an item: entries of one item keep the field of the one-item format. */
  field(streamId: string, item: number, items: number): string {
    return items === 1 ? `${streamId}/${this.#options.group}` : `${streamId}/${this.#options.group}/${item}`
  }

  /** The item's outcome; 'pending' when it stays pending (stopping). Throws when its dead letter could not be written. */
  async #handle(entry: ReaderEntry, items: number, failedBefore: number): Promise<Outcome> {
    const { attempts, backoff } = this.#options
    const field = this.field(entry.streamId, entry.item, items)
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
        if (!this.#hooks.running()) return 'pending'
        if (attempt < attempts) await sleep(backoffDelay(attempt, backoff), undefined, this.#clock)
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
  async failures(streamId: string, items: number): Promise<Array<number | 'dead'>> {
    const { failures } = this.#options
    const fields = Array.from({ length: items }, (_, item) => this.field(streamId, item, items))
    const counts =
      items === 1
        ? [await this.#connection.send<string | null>(['HGET', failures, fields[0] as string], { key: failures })]
        : await this.#connection.send<Array<string | null>>(['HMGET', failures, ...fields], { key: failures })
    return counts.map((n) => (n === DEAD_MARK ? DEAD_MARK : Math.max(0, Math.floor(Number(n ?? 0)) || 0)))
  }

  async #countFailure(field: string): Promise<void> {
    const { failures } = this.#options
    await this.#connection.send(['HINCRBY', failures, field, '1'], { key: failures }).catch((error) => this.#hooks.report(error))
  }

  async #forget(field: string): Promise<void> {
    const { failures } = this.#options
    await this.#connection.send(['HDEL', failures, field], { key: failures }).catch((error) => this.#hooks.report(error))
  }
}

function noop(): void {}
