import { backoffDelay } from '../core/backoff.js'
import { BlockingConnection } from '../core/blocking.js'
import { sleep } from '../core/clock.js'
import { EmitterComponent } from '../core/component.js'
import type { RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'
import { count, optionsObject, timerMs } from '../core/validate.js'
import type { MessagingContext } from './context.js'
import { validateDelta } from './counter.js'

const applyScript = defineScript<
  [events: string, value: string, cursor: string],
  [limit: number],
  [applied: number, value: string, cursor: string, pending: number, skipped: number]
>('counter-apply')

export interface ApplyResult {
  /** Events applied by this call. */
  applied: number
  /** The counter's value after them. */
  value: number
  /** Events still waiting. */
  pending: number
  /** Malformed events (written outside redkit) skipped. */
  skipped: number
}

export interface ConsumerOptions {
  /** Events applied per script call. @defaultValue 1000 */
  batch?: number
  /** Longest blocking wait of an idle consumer (one command per this while idle). @defaultValue 5000 */
  idleBlockMs?: number
}

export interface ConsumerEvents {
  applied: [ApplyResult]
  error: [RedkitError]
  closed: []
}

/**
 * A counter whose increments, decrements and resets are events in a stream. Any number of consumers
 * (processes) apply them, each event exactly once and in stream order: one script moves the
 * counter's cursor and its value together. The applied value is readable at any time.
 */
export class EventCounter {
  readonly name: string
  readonly keys: { events: string; value: string; cursor: string }
  readonly #ctx: MessagingContext

  constructor(ctx: MessagingContext, name: string) {
    this.#ctx = ctx
    this.name = validateObjectName(name, 'counter name')
    const k = ctx.keys.object(this.name)
    this.keys = { events: k('ec', 'events'), value: k('ec', 'value'), cursor: k('ec', 'cursor') }
  }

  #append(op: 'i' | 'd' | 'r', n: number): Promise<string> {
    const key = this.keys.events
    return this.#ctx.connection.send<string>(['XADD', key, '*', 'o', op, 'n', String(n)], { key })
  }

  /** Appends an increment event; resolves its event id. */
  incr(n = 1): Promise<string> {
    return this.#append('i', validateDelta(n))
  }

  decr(n = 1): Promise<string> {
    return this.#append('d', validateDelta(n))
  }

  /** Appends a reset event: events before it no longer count. */
  reset(to = 0): Promise<string> {
    return this.#append('r', validateDelta(to, 'to'))
  }

  /** The value with every applied event (pending events are not in it yet). */
  async value(): Promise<number> {
    const value = await this.#ctx.connection.send<string | null>(['GET', this.keys.value], { key: this.keys.value })
    return value === null ? 0 : Number(value)
  }

  /** Events appended but not applied yet. */
  pending(): Promise<number> {
    return this.#ctx.connection.send<number>(['XLEN', this.keys.events], { key: this.keys.events })
  }

  /** Applies up to `limit` pending events (safe to call from any number of processes at once). */
  async apply(options?: { limit?: number }): Promise<ApplyResult> {
    const { limit = 1000 } = optionsObject(options, 'apply options')
    const { cursor: _, ...result } = await this.applyWithCursor(count(limit, 'limit'))
    return result
  }

  /** `apply`, also resolving the id of the last applied event ('' before the first one). */
  async applyWithCursor(limit: number): Promise<ApplyResult & { cursor: string }> {
    const k = this.keys
    const [applied, value, cursor, pending, skipped] = await applyScript.run(this.#ctx.connection, [k.events, k.value, k.cursor], [limit])
    return { applied, value: Number(value), pending, skipped, cursor }
  }

  /** Applies events as they arrive until closed (or redkit is); blocks on the stream while idle. */
  consume(options?: ConsumerOptions): EventCounterConsumer {
    return new EventCounterConsumer(this.#ctx, this, optionsObject(options, 'consume options'))
  }
}

/** Applies a counter's events as they arrive; closed by `close()` or `rk.close()`. */
export class EventCounterConsumer extends EmitterComponent<ConsumerEvents> {
  readonly #counter: EventCounter
  readonly #batch: number
  readonly #idleBlockMs: number
  readonly #blocking: BlockingConnection
  readonly #done: Promise<void>

  constructor(ctx: MessagingContext, counter: EventCounter, options: ConsumerOptions) {
    const batch = count(options.batch ?? 1000, 'batch')
    const idleBlockMs = timerMs(options.idleBlockMs ?? 5000, 'idleBlockMs')
    super({ name: counter.name, kind: 'event counter', host: ctx })
    this.#counter = counter
    this.#batch = batch
    this.#idleBlockMs = idleBlockMs
    this.#blocking = new BlockingConnection(ctx.connection)
    this.#done = this.#loop()
  }

  async #loop(): Promise<void> {
    const { events } = this.#counter.keys
    let errors = 0
    while (!this.closed) {
      try {
        const { cursor, ...result } = await this.#counter.applyWithCursor(this.#batch)
        errors = 0
        if (result.applied > 0 || result.skipped > 0) this.emit('applied', result)
        if (result.applied >= this.#batch || this.closed) continue
        // Wakes up as soon as an event after the cursor exists (at once if one came meanwhile).
        await this.#blocking.call(
          ['XREAD', 'COUNT', '1', 'BLOCK', String(this.#idleBlockMs), 'STREAMS', events, cursor || '0-0'],
          events,
          this.#idleBlockMs + 3000,
        )
      } catch (error) {
        if (this.closed) break
        this.report(error)
        await sleep(backoffDelay(++errors, { delayMs: 50, maxDelayMs: 2000 }), undefined, this.clock)
      }
    }
  }

  /** Stops consuming; an apply in progress finishes (it is atomic either way). Idempotent. */
  override close(): Promise<void> {
    return super.close()
  }

  protected override async teardown(): Promise<void> {
    this.#blocking.close()
    await this.#done
    this.emit('closed')
  }
}
