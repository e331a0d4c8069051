import { EventEmitter } from 'node:events'
import { validateBackoff } from '../core/backoff.js'
import type { Timer } from '../core/clock.js'
import { Component, type ErrorSink } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'
import { escapeGlob, type ObjectKeys, validateName, validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'
import { type ReaderEntry, StreamGroupReader } from '../core/stream-group-reader.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import { durationMs, optionsObject, timerMs, count as validateCount } from '../core/validate.js'
import type { Expirations } from './expirations.js'
import { ExpiryKeys } from './expiry-keys.js'
import type {
  PresenceDeadLetter,
  PresenceEvent,
  PresenceEvents,
  PresenceMember,
  PresenceOptions,
  PresenceTransitions,
  PresenceWatchOptions,
} from './presence-types.js'
import { PresenceWire, parseRecord } from './presence-wire.js'
import type { Subscription } from './types.js'

export type {
  PresenceDeadLetter,
  PresenceEvent,
  PresenceEvents,
  PresenceMember,
  PresenceOfflineEvent,
  PresenceOnlineEvent,
  PresenceOptions,
  PresenceTransitions,
  PresenceWatchOptions,
} from './presence-types.js'

const scripts = {
  beat: defineScript<
    [heartbeat: string, index: string, members: string, deadlines: string, stream: string, claimed: string],
    [id: string, ttlMs: number, meta: string, wake: string, retentionMs: number],
    [number, number, number]
  >('presence-beat'),
  lapse: defineScript<
    [members: string, deadlines: string, stream: string],
    [retentionMs: number, mode: 'id' | 'due', idOrGraceMs: string, limit: number],
    [number, number]
  >('presence-lapse'),
  read: defineScript<[members: string, deadlines: string], [op: 'is' | 'count' | 'list', id: string], unknown>('presence-read'),
}

type Handler = (event: PresenceEvent) => unknown

interface Watch {
  reader: StreamGroupReader
  handlers: Set<Handler>
}

const LAPSE_ATTEMPTS = 30
const REAP_GRACE_MS = 1000
const REAP_BATCH = 200

/**
 * Who is online: members that send heartbeats (`beat`) and go offline when one is not renewed within
 * `ttlMs`.
 *
 * - A heartbeat writes the member's heartbeat key through the reliable expiry machinery (the key and
 *   its deadline entry in one script), and decides in the same script whether the member came online;
 *   the `online` transition is appended to the presence's stream in that step, so two processes
 *   beating one id at once produce one `online`.
 * - A lapse is an expiry event of the heartbeat key (never lost: it waits in the expiry stream for the
 *   presence's internal group). Any watching process turns it into the `offline` transition with a
 *   script that removes the member and appends the transition in one step, so redeliveries and
 *   concurrent processes record it once. A heartbeat arriving after the deadline but before that
 *   records the offline itself, then the online. Watchers also reap, every `reapIntervalMs`, members
 *   whose lapse was never recorded, so even an expiry event lost to a dead letter gets its offline.
 * - Watchers read the transitions stream with a consumer group: each group gets each transition at
 *   least once (exactly once barring a crash or a failing handler), with a stable `eventId`.
 */
export class Presence<M = unknown> extends Component {
  readonly ttlMs: number
  /** Background failures and dead letters. (`on` subscribes to transitions, so the emitter is a separate object.) */
  readonly events = new EventEmitter<PresenceEvents>()
  readonly #rk: RedkitContext
  readonly #expirations: Expirations
  readonly #expiryKeys: ExpiryKeys
  readonly #key: ObjectKeys
  readonly #members: string
  readonly #deadlines: string
  readonly #stream: string
  readonly #wire: PresenceWire<M>
  readonly #dead: string
  readonly #heartbeatPrefix: string
  readonly #defaultGroup: string
  readonly #retentionMs: number
  readonly #reapIntervalMs: number
  readonly #watches = new Map<string, Watch>()
  #lapses: Promise<Subscription> | undefined
  #reaper: Timer | undefined
  #reaping: Promise<void> | undefined
  #sweeping = false

  constructor(rk: RedkitContext, expirations: Expirations, name: string, options: PresenceOptions) {
    const validName = validateObjectName(name, 'presence name')
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'presence needs an options object with ttlMs')
    const ttlMs = durationMs(options.ttlMs, 'ttlMs')
    const retentionMs = options.retentionMs === undefined ? 86_400_000 : durationMs(options.retentionMs, 'retentionMs', { allowZero: true })
    const reapIntervalMs = timerMs(options.reapIntervalMs ?? 5000, 'reapIntervalMs')
    // Registered with rk.close() only once it watches (see attach below): a presence handle made
    // per request holds nothing until then.
    super({ name: validName, kind: 'presence', scrubber: rk.connection.scrubber })
    this.ttlMs = ttlMs
    this.#retentionMs = retentionMs
    this.#reapIntervalMs = reapIntervalMs
    this.#defaultGroup = validateObjectName(options.group ?? `presence:${this.name}`, 'group')
    this.#rk = rk
    this.#expirations = expirations
    this.#expiryKeys = new ExpiryKeys(rk.keys, rk.topology === 'cluster')
    this.#key = rk.keys.object(`presence:${this.name}`)
    this.#members = this.#key('members')
    this.#deadlines = this.#key('deadlines')
    this.#stream = this.#key('events')
    this.#wire = new PresenceWire<M>(rk.codec, this.name, this.#stream, (error) => this.report(error))
    this.#dead = this.#key('dead')
    this.#heartbeatPrefix = this.#key('hb', '')
  }

  /** The heartbeat key of a member (a string that expires when the member goes offline). */
  heartbeatKey(id: string): string {
    return this.#heartbeatPrefix + validateName(id, 'id')
  }

  /**
   * Marks the member online for `ttlMs` from now. `meta` (any value the codec stores) replaces the
   * stored meta; without it the stored meta is kept while the member stays online.
   * @returns true when this beat brought the member online (it was offline)
   * @throws RedkitError E_INVALID_KEY for a bad id, E_ENCODE for meta the codec cannot store (nothing is written then)
   */
  async beat(id: string, meta?: M): Promise<boolean> {
    this.assertOpen()
    const heartbeat = this.heartbeatKey(id)
    const encodedMeta = meta === undefined ? '' : `m${this.#rk.codec.encode(meta)}`
    const slot = this.#expiryKeys.forKey(heartbeat)
    const [cameOnline, deadline, added] = await scripts.beat.run(
      this.#rk.connection,
      [heartbeat, slot.index, this.#members, this.#deadlines, this.#stream, slot.claimed],
      [id, this.ttlMs, encodedMeta, slot.slot < 0 ? this.#expiryKeys.wake : '', this.#retentionMs],
    )
    // A new deadline entry on Cluster: tell the sweepers' slot directory (a renewal only moves an entry later).
    if (added === 1) this.#expirations.directory.touch(slot.slot, deadline)
    if (!this.#sweeping) {
      // Like expirations.set: a process that writes deadlines sweeps too (unless its expirations were told not to).
      this.#sweeping = true
      this.#expirations.sweepNow()
    }
    return cameOnline === 1
  }

  /** True while the member's latest heartbeat is less than ttlMs old (server clock). */
  async isOnline(id: string): Promise<boolean> {
    this.assertOpen()
    const reply = await scripts.read.run(this.#rk.connection, [this.#members, this.#deadlines], ['is', validateName(id, 'id')])
    return Number(reply) === 1
  }

  /** The number of members online now. */
  async count(): Promise<number> {
    this.assertOpen()
    return Number(await scripts.read.run(this.#rk.connection, [this.#members, this.#deadlines], ['count', '']))
  }

  /** The members online now, soonest deadline first. A meta that cannot be decoded is reported on `events` and given as undefined. */
  async online(): Promise<PresenceMember<M>[]> {
    this.assertOpen()
    const reply = await scripts.read.run(this.#rk.connection, [this.#members, this.#deadlines], ['list', ''])
    const flat = Array.isArray(reply) ? reply.map(String) : []
    const out: PresenceMember<M>[] = []
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const record = parseRecord(flat[i + 2] as string)
      if (!record) continue
      const { meta } = this.#wire.decodeMeta(record.meta)
      out.push({ id: flat[i] as string, since: record.since, lastBeat: record.lastBeat, deadline: Number(flat[i + 1]), meta })
    }
    return out
  }

  /**
   * Calls `handler` for each `online` or `offline` transition, at least once per consumer group
   * (exactly once barring crashes and failing handlers; de-duplicate with `eventId`). The processes
   * of one group share the transitions of each type (each type has its own consumer group, so the
   * order handlers are registered in does not matter). The first call also makes this process
   * record lapses (a member whose heartbeat expired becomes `offline`).
   */
  async on<K extends keyof PresenceTransitions<M>>(
    type: K,
    handler: (event: PresenceTransitions<M>[K]) => unknown,
    options: PresenceWatchOptions = {},
  ): Promise<Subscription> {
    this.assertOpen()
    optionsObject(options)
    if (type !== 'online' && type !== 'offline')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `presence events are 'online' and 'offline', got ${describeValue(type)}`)
    if (typeof handler !== 'function') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'handler must be a function')
    const group = validateObjectName(options.group ?? this.#defaultGroup, 'group')
    const attempts = options.attempts ?? 5
    if (!Number.isSafeInteger(attempts) || attempts < 1)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'attempts must be a positive integer')
    const concurrency = options.concurrency ?? 16
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'concurrency must be a positive integer')
    const from = options.from ?? 'new'
    if (from !== 'new' && from !== 'retained') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `from must be 'new' or 'retained'`)
    const reclaimIdleMs = durationMs(options.reclaimIdleMs ?? 60_000, 'reclaimIdleMs')
    this.attach(this.#rk)

    // Each type has its own consumer group (`<group>:online`, `<group>:offline`): a process that has
    // registered only one of its handlers yet can never acknowledge a transition of the other type
    // unhandled, and each transition is still handled once per group.
    const watchKey = `${group}:${type}`
    const entry = handler as Handler
    let watch = this.#watches.get(watchKey)
    if (watch) watch.handlers.add(entry)
    else {
      // The handler is in place before the reader starts: a backlog read at once must reach it.
      const handlers: Watch['handlers'] = new Set([entry])
      const reader = new StreamGroupReader(this.#rk.connection, {
        kind: 'presence',
        name: this.name,
        stream: this.#stream,
        dead: this.#dead,
        registry: this.#key('groups'),
        failures: this.#key('failures'),
        youngStateMs: this.#retentionMs || 86_400_000,
        group: watchKey,
        from,
        attempts,
        backoff: validateBackoff(options.backoff) ?? { delayMs: 200, maxDelayMs: 10_000 },
        concurrency,
        reclaimIdleMs,
        maxDeadLetters: 10_000,
        orderKey: (fields) => fieldsToRecord(fields).id ?? '',
        handle: (entry) => this.#dispatch(entry, type, handlers),
        onDead: (entry, error) => this.#wire.deadLetter(entry, group, attempts, error).fields,
        afterDead: (entry, error) => {
          if (this.events.listenerCount('dead') > 0) this.events.emit('dead', this.#wire.deadLetter(entry, group, attempts, error).letter)
        },
        onReset: () => this.events.emit('reset', { group: watchKey }),
        onError: (error) => this.report(error),
      })
      watch = { reader, handlers }
      this.#watches.set(watchKey, watch)
      try {
        // The group exists before this process records any lapse, so it cannot miss one it caused.
        await reader.start()
        await this.#startLapses()
      } catch (error) {
        this.#watches.delete(watchKey)
        await reader.stop()
        throw error
      }
    }
    const owner = watch
    let closed = false
    return {
      close: async () => {
        if (closed) return
        closed = true
        if (owner.handlers.size === 1 && this.#watches.get(watchKey) === owner) {
          // Stop first, so transitions this consumer still holds reach this handler before it goes.
          this.#watches.delete(watchKey)
          await owner.reader.stop()
        }
        owner.handlers.delete(entry)
        if (this.#watches.size === 0) await this.#stopLapses()
      },
    }
  }

  /** Transitions that failed every attempt of a group's handlers, oldest first. */
  async deadLetters(count = 100): Promise<PresenceDeadLetter[]> {
    validateCount(count, 'count', { max: 10_000 })
    const reply = await this.#rk.connection.send(['XRANGE', this.#dead, '-', '+', 'COUNT', String(count)], { key: this.#dead })
    return entriesOf([[this.#dead, reply]]).map(([, raw]) => {
      const f = fieldsToRecord(raw)
      return { eventId: f.eid ?? '', type: f.t ?? '', id: f.id ?? '', group: f.g ?? '', error: f.e ?? '', attempts: Number(f.n) }
    })
  }

  /** Looks for members that lapsed without their offline recorded, now (tests, operators). @returns how many were recorded */
  async reapNow(graceMs = 0): Promise<number> {
    durationMs(graceMs, 'graceMs', { allowZero: true })
    let total = 0
    for (;;) {
      const [n, examined] = await scripts.lapse.run(
        this.#rk.connection,
        [this.#members, this.#deadlines, this.#stream],
        [this.#retentionMs, 'due', String(graceMs), REAP_BATCH],
      )
      total += n
      if (examined < REAP_BATCH || this.closed) return total
    }
  }

  /** Stops watching (handlers in flight finish and are acknowledged first). Beats after close fail with E_CLOSED. Idempotent. */
  override close(): Promise<void> {
    return super.close()
  }

  protected override async teardown(): Promise<void> {
    const watches = [...this.#watches.values()]
    this.#watches.clear()
    await Promise.allSettled(watches.map((w) => w.reader.stop()))
    await this.#stopLapses()
  }

  /** Lapse recording: the heartbeat keys' expiry events, heard by one internal group per presence, plus the reaper. */
  async #startLapses(): Promise<void> {
    if (!this.#lapses) {
      const pattern = `${escapeGlob(this.#heartbeatPrefix)}*`
      this.#lapses = this.#expirations.on(pattern, (event) => this.#recordLapse(event.key.slice(this.#heartbeatPrefix.length)), {
        group: `~presence:${this.name}`,
        // A lapse is retried through a long outage; the reaper catches any that still end in a dead letter.
        attempts: LAPSE_ATTEMPTS,
        backoff: { delayMs: 100, maxDelayMs: 5000 },
      })
      this.#lapses.catch(() => {
        this.#lapses = undefined
      })
    }
    await this.#lapses
    if (!this.#reaper) {
      this.#reaper = this.clock.setInterval(() => {
        this.#reaping ??= this.reapNow(REAP_GRACE_MS)
          .then(
            () => {},
            (error) => {
              this.report(error)
            },
          )
          .finally(() => {
            this.#reaping = undefined
          })
      }, this.#reapIntervalMs)
      this.#reaper.unref()
    }
  }

  async #stopLapses(): Promise<void> {
    this.clock.clearInterval(this.#reaper)
    this.#reaper = undefined
    const lapses = this.#lapses
    this.#lapses = undefined
    await this.#reaping
    if (lapses) await (await lapses.catch(() => undefined))?.close()
  }

  async #recordLapse(id: string): Promise<void> {
    await scripts.lapse.run(this.#rk.connection, [this.#members, this.#deadlines, this.#stream], [this.#retentionMs, 'id', id, 0])
  }

  /** Runs the handlers of `type`; a transition of the other type is its own group's business. */
  async #dispatch({ streamId, fields, attempt }: ReaderEntry, type: 'online' | 'offline', handlers: Watch['handlers']): Promise<void> {
    const record = fieldsToRecord(fields)
    if (record.t !== type && (record.t === 'online' || record.t === 'offline')) return
    const event = this.#wire.toEvent(streamId, record, attempt)
    if (!event) return
    for (const handler of handlers) await handler(event)
  }

  protected override errorSink(): ErrorSink {
    return this.events as unknown as ErrorSink
  }
}
