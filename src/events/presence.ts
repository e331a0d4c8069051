import { EventEmitter } from 'node:events'
import { type BackoffOptions, validateBackoff } from '../core/backoff.js'
import type { Timer } from '../core/clock.js'
import { Component, type ErrorSink } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { escapeGlob, type ObjectKeys, validateName, validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'
import { type ReaderEntry, StreamGroupReader } from '../core/stream-group-reader.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import { durationMs, optionsObject, timerMs, count as validateCount } from '../core/validate.js'
import type { Expirations } from './expirations.js'
import { ExpiryKeys } from './expiry-keys.js'
import type { Subscription } from './types.js'

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

export interface PresenceOptions {
  /** How long a heartbeat keeps a member online: a positive integer number of ms below 2^53. */
  ttlMs: number
  /**
   * Default consumer group of `on()`. Every group gets every transition once; the processes of one
   * group share them. @defaultValue `presence:<name>`
   */
  group?: string
  /**
   * How long transitions stay in the stream for groups that are not reading (a watcher that was
   * down). A group away for longer misses the older ones. @defaultValue 86_400_000 (24 h)
   */
  retentionMs?: number
  /**
   * How often a watching process looks for members whose offline was never recorded (their expiry
   * event was lost to a dead letter, or happened before anyone watched). @defaultValue 5000
   */
  reapIntervalMs?: number
}

export interface PresenceWatchOptions {
  /** Consumer group. @defaultValue the presence's `group` option */
  group?: string
  /** Handler calls after which a failing transition goes to the dead letters. @defaultValue 5 */
  attempts?: number
  /** Delay between attempts. @defaultValue exponential from 200 ms, at most 10 s */
  backoff?: BackoffOptions
  /** Transitions handled at once by this process (one member's are always handled in order). @defaultValue 16 */
  concurrency?: number
  /**
   * Where a group seen for the first time starts: `'new'` hears transitions from now on,
   * `'retained'` also those still in the stream. @defaultValue 'new'
   */
  from?: 'new' | 'retained'
  /** A transition left unacknowledged this long by a consumer (that died) is handled by another. @defaultValue 60_000 */
  reclaimIdleMs?: number
}

/** A member that is online now. Times are epoch ms, server clock. */
export interface PresenceMember<M = unknown> {
  id: string
  /** When it came online. */
  since: number
  /** Its latest heartbeat. */
  lastBeat: number
  /** When it goes offline unless it beats again. */
  deadline: number
  /** The meta of its latest beat that carried one. */
  meta: M | undefined
}

interface TransitionBase<M> {
  /**
   * Stable identity of this transition (its stream entry id): the same in every group and on every
   * redelivery, so handlers can de-duplicate.
   */
  eventId: string
  /** The presence it belongs to. */
  presence: string
  id: string
  meta: M | undefined
  /** Set when the stored meta could not be decoded; `meta` is then undefined. */
  metaError?: RedkitError
  /** When it came online. */
  since: number
  /** 1 on first delivery, more on retries. */
  attempt: number
}

export interface PresenceOnlineEvent<M = unknown> extends TransitionBase<M> {
  type: 'online'
  /** When it came online (= since). */
  at: number
}

export interface PresenceOfflineEvent<M = unknown> extends TransitionBase<M> {
  type: 'offline'
  /** When it went offline: the deadline its last heartbeat set. */
  at: number
  /** Its last heartbeat. */
  lastBeat: number
}

export type PresenceEvent<M = unknown> = PresenceOnlineEvent<M> | PresenceOfflineEvent<M>

export interface PresenceTransitions<M = unknown> {
  online: PresenceOnlineEvent<M>
  offline: PresenceOfflineEvent<M>
}

export interface PresenceDeadLetter {
  eventId: string
  type: string
  id: string
  group: string
  error: string
  attempts: number
}

export interface PresenceEvents {
  /** A background failure (read, lapse check, decode); watching goes on. */
  error: [RedkitError]
  /** A transition failed every attempt of a group's handlers and went to the dead letters. */
  dead: [PresenceDeadLetter]
  /** A group was found gone (Redis lost its data) and recreated: transitions it had not acknowledged are lost. */
  reset: [{ group: string }]
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
      const { meta } = this.#decodeMeta(record.meta)
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
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `presence events are 'online' and 'offline', got ${String(type)}`)
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
        onDead: (entry, error) => this.#deadLetter(entry, group, attempts, error).fields,
        afterDead: (entry, error) => {
          if (this.events.listenerCount('dead') > 0) this.events.emit('dead', this.#deadLetter(entry, group, attempts, error).letter)
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
    const event = this.#toEvent(streamId, record, attempt)
    if (!event) return
    for (const handler of handlers) await handler(event)
  }

  #toEvent(eventId: string, f: Record<string, string>, attempt: number): PresenceEvent<M> | undefined {
    const at = Number(f.at)
    const since = Number(f.s)
    if ((f.t !== 'online' && f.t !== 'offline') || f.id === undefined || !Number.isFinite(at) || !Number.isFinite(since)) {
      this.report(new RedkitError(ErrorCodes.E_DECODE, `malformed presence transition ${eventId} in ${this.#stream}`))
      return undefined
    }
    const { meta, metaError } = this.#decodeMeta(f.m === undefined ? '' : `m${f.m}`)
    const base = { eventId, presence: this.name, id: f.id, meta, since, at, attempt }
    const event: PresenceEvent<M> = f.t === 'online' ? { ...base, type: 'online' } : { ...base, type: 'offline', lastBeat: Number(f.lb) }
    if (metaError) event.metaError = metaError
    return event
  }

  #decodeMeta(stored: string): { meta: M | undefined; metaError?: RedkitError } {
    if (stored === '') return { meta: undefined }
    try {
      return { meta: this.#rk.codec.decode(stored.slice(1)) as M }
    } catch (error) {
      const metaError =
        error instanceof RedkitError ? error : new RedkitError(ErrorCodes.E_DECODE, `cannot decode presence meta`, { cause: error })
      this.report(metaError)
      return { meta: undefined, metaError }
    }
  }

  #deadLetter(entry: ReaderEntry, group: string, attempts: number, error: unknown): { letter: PresenceDeadLetter; fields: string[] } {
    const f = fieldsToRecord(entry.fields)
    const letter: PresenceDeadLetter = {
      eventId: entry.streamId,
      type: f.t ?? '',
      id: f.id ?? '',
      group,
      error: error instanceof Error ? error.message : String(error),
      attempts,
    }
    return {
      letter,
      fields: ['eid', letter.eventId, 't', letter.type, 'id', letter.id, 'g', group, 'e', letter.error, 'n', String(attempts)],
    }
  }

  protected override errorSink(): ErrorSink {
    return this.events as unknown as ErrorSink
  }
}

function parseRecord(record: string): { since: number; lastBeat: number; meta: string } | undefined {
  const match = /^(\d+),(\d+),([\s\S]*)$/.exec(record)
  if (!match) return undefined
  return { since: Number(match[1]), lastBeat: Number(match[2]), meta: match[3] as string }
}
