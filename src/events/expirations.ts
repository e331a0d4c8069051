import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { withTimeout } from '../core/async.js'
import { validateBackoff } from '../core/backoff.js'
import { Component, type ErrorSink } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { DurableWriter, validateDurable } from '../core/durability.js'
import { ErrorCodes, errors, RedkitError } from '../core/errors.js'
import { compileGlob } from '../core/glob.js'
import { validateName, validateObjectName } from '../core/keys.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import { count, durationMs, oneOf, optionsObject, positiveInteger, timerMs } from '../core/validate.js'
import { SlotDirectory } from './directory.js'
import { ExpiryKeys } from './expiry-keys.js'
import { GroupReader, type GroupSettings } from './group-reader.js'
import { NativeExpirySubscriber } from './native.js'
import { warnIfEvictable } from './server-check.js'
import { Sweeper } from './sweeper.js'
import type {
  DeadLetter,
  ExpirationsOptions,
  ExpireOptions,
  ExpiryHandler,
  ExpirySetOptions,
  SubscribeOptions,
  Subscription,
} from './types.js'
import { DeadlineWriter } from './writer.js'

export interface ExpirationsEvents {
  /** A background failure (sweep, read, decode); delivery goes on. */
  error: [RedkitError]
  /** An event failed every attempt and went to the dead letters. */
  dead: [DeadLetter]
  /**
   * A group was found gone (Redis restarted without persistence, FLUSHDB, the stream evicted or
   * deleted) and recreated from the stream's start: events it had not acknowledged are lost.
   */
  reset: [{ group: string }]
}

/**
 * "Tell me when this key expires", delivered on time and never lost.
 * Reliable mode covers keys written through `set`, `expire` and `track`; native mode any key.
 */
export class Expirations extends Component {
  /**
   * Background failures and dead letters. (`on` itself subscribes to expirations, so the emitter is
   * a separate object.)
   */
  readonly events = new EventEmitter<ExpirationsEvents>()
  readonly #rk: RedkitContext
  readonly #keys: ExpiryKeys
  readonly #writer: DeadlineWriter
  /** @internal Cluster: the sweepers' slot directory, told of new deadlines (shared with presence). */
  readonly directory: SlotDirectory
  readonly #options: Required<Omit<ExpirationsOptions, 'durable'>>
  readonly #readers = new Map<string, { reader: GroupReader; started: Promise<void> }>()
  #offsetMs = 0
  #sweeper: Sweeper | undefined
  #native: NativeExpirySubscriber | undefined

  constructor(rk: RedkitContext, options: ExpirationsOptions = {}) {
    const retentionMs = durationMs(options.retentionMs ?? 86_400_000, 'retentionMs')
    const resolved = {
      retentionMs,
      // At most the retention: an event kept for replay is kept no longer than one nobody acknowledged.
      replayMs: durationMs(options.replayMs ?? Math.min(600_000, retentionMs), 'replayMs', { allowZero: true, max: retentionMs }),
      sweep: options.sweep ?? true,
      maxSweepIntervalMs: timerMs(options.maxSweepIntervalMs ?? 1000, 'maxSweepIntervalMs'),
      sweepBatch: validateSweepBatch(options.sweepBatch ?? 1000),
      claimLeaseMs: durationMs(options.claimLeaseMs ?? 30_000, 'claimLeaseMs'),
      reclaimIdleMs: durationMs(options.reclaimIdleMs ?? 60_000, 'reclaimIdleMs'),
      nativeTopologyCheckMs: timerMs(options.nativeTopologyCheckMs ?? 5000, 'nativeTopologyCheckMs'),
    }
    super({ name: 'expirations', host: rk })
    this.#rk = rk
    this.#options = resolved
    this.#keys = new ExpiryKeys(rk.keys, rk.topology === 'cluster')
    this.directory = new SlotDirectory(rk.connection, this.#keys, (error) => this.report(error))
    const durable = validateDurable(options.durable)
    const writes = durable ? new DurableWriter(rk.connection, durable) : rk.connection
    this.#writer = new DeadlineWriter(writes, this.#keys, rk.codec, this.directory)
  }

  /** A valid key name that is not one of the expiry machinery's own keys. */
  #userKey(key: unknown): string {
    const valid = validateName(key, 'key')
    if (this.#keys.isInternal(valid))
      throw new RedkitError(
        ErrorCodes.E_INVALID_KEY,
        `key ${JSON.stringify(valid)} is one of redkit's own expiry keys; choose another name`,
      )
    return valid
  }

  /**
   * Stores `value` at `key` with a TTL and schedules its expiry event, atomically. Setting the key
   * again moves its deadline; `delete` cancels it.
   * @returns the deadline (epoch ms, server clock)
   */
  async set(key: string, value: unknown, options: ExpirySetOptions): Promise<number> {
    this.assertOpen()
    this.#userKey(key)
    const ttlMs = durationMs(optionsObject(options ?? null, 'set options').ttlMs, 'ttlMs')
    warnIfEvictable(this.#rk)
    const deadline = await this.#writer.set(key, value, ttlMs, options.keepValue ?? true)
    this.#ensureSweeper()
    return deadline
  }

  /**
   * Gives an existing key a TTL and schedules its expiry event.
   * @returns the deadline, or undefined when the key does not exist
   */
  async expire(key: string, ttlMs: number, options: ExpireOptions = {}): Promise<number | undefined> {
    this.assertOpen()
    this.#userKey(key)
    const ttl = durationMs(ttlMs, 'ttlMs')
    const deadline = await this.#writer.expire(key, ttl, keepOf(options))
    this.#ensureSweeper()
    return deadline
  }

  /**
   * Adopts a key that was given a TTL elsewhere (e.g. `SET k v PX 5000` by another program). Its TTL
   * is re-read about every second, so changes made outside redkit are followed either way, and a
   * key gone early is delivered when it is found gone (see docs/events.md for the exact bounds).
   * @returns the deadline, or undefined when the key does not exist or has no TTL
   */
  async track(key: string, options: ExpireOptions = {}): Promise<number | undefined> {
    this.assertOpen()
    this.#userKey(key)
    const deadline = await this.#writer.expire(key, 0, keepOf(options))
    this.#ensureSweeper()
    return deadline
  }

  /** Deletes the key and cancels its expiry event. @returns true when an event was cancelled */
  async delete(key: string): Promise<boolean> {
    this.assertOpen()
    return this.#writer.cancel(this.#userKey(key), true)
  }

  /** Keeps the key but removes its TTL and its expiry event. @returns true when an event was cancelled */
  async persist(key: string): Promise<boolean> {
    this.assertOpen()
    return this.#writer.cancel(this.#userKey(key), false)
  }

  /**
   * Calls `handler` for every expiration of a key matching the glob `pattern`.
   * Reliable mode: at least once per group, acknowledged after the handler resolves, retried with
   * backoff when it throws, dead-lettered after the last attempt.
   */
  async on<T = unknown>(pattern: string, handler: ExpiryHandler<T>, options: SubscribeOptions = {}): Promise<Subscription> {
    this.assertOpen()
    optionsObject(options)
    const regex = compileGlob(pattern)
    if (typeof handler !== 'function') throw errors.invalidArgument('handler', 'a function', handler)
    const mode = oneOf(options.mode ?? 'reliable', 'mode', ['reliable', 'native'] as const)
    if (mode === 'native') {
      // Native events carry no value and have no groups: every subscriber hears each one.
      for (const option of ['group', 'withValue', 'attempts', 'backoff', 'concurrency', 'from', 'temporary'] as const)
        if (options[option] !== undefined)
          throw errors.invalidArgument(option, 'unset in native mode (reliable mode only)', options[option])
      this.#native ??= new NativeExpirySubscriber(this.#rk.connection, {
        onError: (error) => this.report(error),
        topologyCheckMs: this.#options.nativeTopologyCheckMs,
      })
      return this.#native.add(regex, handler as ExpiryHandler)
    }
    // Without a name, the group is the pattern's own: subscriptions of one pattern share their
    // events across processes, and no two patterns (a cache's and a session's) ever take each other's.
    const group = validateObjectName(options.group ?? defaultGroup(pattern), 'group')
    const given = {
      attempts: options.attempts === undefined ? undefined : positiveInteger(options.attempts, 'attempts'),
      backoff: validateBackoff(options.backoff),
      concurrency: options.concurrency === undefined ? undefined : positiveInteger(options.concurrency, 'concurrency'),
      from: options.from === undefined ? undefined : oneOf(options.from, 'from', ['new', 'retained'] as const),
      temporary: options.temporary === undefined ? undefined : oneOf(options.temporary, 'temporary', [true, false] as const),
    }
    let pending = this.#readers.get(group)
    if (pending) {
      const { reader } = pending
      for (const [option, value] of Object.entries(given))
        if (value !== undefined && JSON.stringify(value) !== JSON.stringify(reader.settings[option as keyof GroupSettings]))
          throw errors.invalidArgument(
            option,
            `${JSON.stringify(reader.settings[option as keyof GroupSettings])}, as group ${group} is already read with in this process`,
            value,
          )
    } else {
      const reader = new GroupReader(this.#rk.connection, this.#keys, this.#rk.codec, group, {
        attempts: given.attempts ?? 5,
        backoff: given.backoff ?? { delayMs: 200, maxDelayMs: 10_000 },
        concurrency: given.concurrency ?? 64,
        from: given.from ?? 'new',
        temporary: given.temporary ?? false,
        reclaimIdleMs: this.#options.reclaimIdleMs,
        // After Redis lost its data, a group seen for the first time starts at the stream's beginning
        // for as long as events every group acknowledged are kept for replay.
        youngStateMs: this.#options.replayMs,
        maxDeadLetters: 100_000,
        offsetMs: () => this.#sweeper?.offsetMs ?? this.#offsetMs,
        onError: (error) => this.report(error),
        onDead: (letter) => this.events.emit('dead', letter),
        onReset: (name) => this.events.emit('reset', { group: name }),
      })
      pending = { reader, started: this.#startReader(group, reader) }
      this.#readers.set(group, pending)
    }
    // A start that fails forgets the reader (see #startReader), so the caller's retry starts afresh.
    await pending.started
    this.#ensureSweeper()
    const entry = { pattern: regex, handler: handler as ExpiryHandler, withValue: options.withValue ?? false }
    const owner = pending
    owner.reader.handlers.add(entry)
    return {
      close: async () => {
        // The last handler of the group here: stop the reader while the handler is still there, so
        // events held by this consumer are handled (or left pending), never acknowledged unhandled.
        if (owner.reader.handlers.size === 1 && owner.reader.handlers.has(entry) && this.#readers.get(group) === owner) {
          this.#readers.delete(group)
          await owner.reader.stop()
        }
        owner.reader.handlers.delete(entry)
      },
    }
  }

  async #startReader(group: string, reader: GroupReader): Promise<void> {
    try {
      warnIfEvictable(this.#rk)
      if (!this.#sweeper?.offsetMs) await this.#learnOffset()
      await reader.start()
    } catch (error) {
      if (this.#readers.get(group)?.reader === reader) this.#readers.delete(group)
      throw error
    }
  }

  /** Lateness is measured on the server clock: learn its offset from ours once, when no sweeper here does. */
  async #learnOffset(): Promise<void> {
    const before = Date.now()
    const [seconds, micros] = await this.#rk.connection.send<[string, string]>(['TIME'], { key: this.#keys.stream })
    this.#offsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - Math.round((before + Date.now()) / 2)
  }

  /** Dead letters, oldest first. */
  async deadLetters(count = 100): Promise<DeadLetter[]> {
    const reply = await this.#rk.connection.send(['XRANGE', this.#keys.dead, '-', '+', 'COUNT', String(count)], { key: this.#keys.dead })
    return entriesOf([[this.#keys.dead, reply]]).map(([streamId, raw]) => {
      const f = fieldsToRecord(raw)
      return {
        id: f.id ?? '',
        key: f.k ?? '',
        deadline: Number(f.d),
        group: f.g ?? '',
        error: f.e ?? '',
        attempts: Number(f.n),
        // The dead-letter entry's id is the time it was written.
        at: Number(streamId.split('-')[0]),
      }
    })
  }

  /** Sweeps now instead of at the next deadline (tests, CLI). */
  sweepNow(): void {
    this.#ensureSweeper()
    this.#sweeper?.wake()
  }

  #ensureSweeper(): void {
    if (this.#sweeper || !this.#options.sweep || this.closed) return
    const sweeper = new Sweeper(this.#rk.connection, this.#keys, {
      batch: this.#options.sweepBatch,
      maxIntervalMs: this.#options.maxSweepIntervalMs,
      leaseMs: this.#options.claimLeaseMs,
      retentionMs: this.#options.retentionMs,
      replayMs: this.#options.replayMs,
      // A live consumer reads at least every second; one silent this long is dead (as for reclaiming).
      staleGroupMs: this.#options.reclaimIdleMs,
      reconcileIntervalMs: 60_000,
      onError: (error) => this.report(error),
    })
    this.#sweeper = sweeper
    // After a reconnect, sweep at once: deadlines may have passed while the connection was down.
    const onReady = () => sweeper.wake()
    this.#rk.connection.on('ready', onReady)
    sweeper.stopped.then(() => this.#rk.connection.off('ready', onReady))
    sweeper.start().catch((error) => {
      this.report(error)
      if (this.#sweeper === sweeper) this.#sweeper = undefined
    })
  }

  protected override errorSink(): ErrorSink {
    return this.events as unknown as ErrorSink
  }

  /** Stops sweeping and delivering; handlers in flight finish and are acknowledged first. */
  protected override async teardown(): Promise<void> {
    // All at once: each part's stop is bounded, and with a frozen node the bounds must not add up.
    const readers = [...this.#readers.values()].map(({ reader }) => reader.stop())
    this.#readers.clear()
    await Promise.allSettled([
      ...readers,
      this.#sweeper?.stop(),
      withTimeout(this.directory.close(), 2000, () => undefined),
      this.#native?.close(),
    ])
  }
}

/** A sweep batch travels through Lua's unpack (one ZREM of the batch), which takes at most ~8,000 values. */
function validateSweepBatch(value: unknown): number {
  return count(value, 'sweepBatch', { max: 2000 })
}

function keepOf(given: ExpireOptions): boolean | { value: unknown } {
  const options = optionsObject(given)
  return 'value' in options ? { value: options.value } : (options.keepValue ?? false)
}

/** The group of a subscription that names none: one per pattern. */
export function defaultGroup(pattern: string): string {
  return `p-${createHash('sha256').update(pattern).digest('hex').slice(0, 16)}`
}
