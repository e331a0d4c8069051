import { withTimeout } from '../core/async.js'
import { Component } from '../core/component.js'
import type { Connection } from '../core/connection.js'
import type { ExpiryKeys } from './expiry-keys.js'
import { scripts } from './scripts.js'
import { EVENTS_PER_ENTRY, LAPSED_SEPARATOR } from './wire.js'

export interface SweeperOptions {
  batch: number
  maxIntervalMs: number
  leaseMs: number
  retentionMs: number
  /** How long events every group acknowledged stay in the stream. */
  replayMs: number
  /** A temporary group (a watcher's) none of whose consumers read for this long belonged to a killed process. */
  staleGroupMs: number
  /** Cluster: how often one sweeper re-reads every slot's index to repair the directory. */
  reconcileIntervalMs: number
  onError(error: unknown): void
}

const STOP_BOUND_MS = 2000
/** How often one sweeper trims what every group acknowledged. */
const TRIM_INTERVAL_MS = 1000
/** Cluster: how long a sweep waits for the slots of one batch before it goes on without the slow ones. */
const SLOT_WAIT_MS = 500
/** Cluster: most arguments (3 per event) in one coalesced append call. */
const APPEND_MAX_ARGS = 6000

/**
 * Moves due deadlines into the event stream. Sleeps until the earliest deadline, woken early by a
 * pub/sub message when a writer sets an earlier one, and never longer than maxIntervalMs (so a
 * missed wake-up costs at most that). Any number of processes may sweep at once: claims are atomic.
 */
export class Sweeper extends Component {
  readonly #connection: Connection
  readonly #keys: ExpiryKeys
  readonly #options: SweeperOptions
  #unsubscribe: (() => Promise<void>) | undefined
  #timer: NodeJS.Timeout | undefined
  #running = false
  #sweeping: Promise<void> | undefined
  #again = false
  /** server clock - local clock, learnt from script replies. */
  #offsetMs = 0
  #offsetKnown = false
  #lastReconcile = 0
  #lastTrim = 0
  /** Cluster: the append call the slot sweeps of this tick join (see #append). */
  #appendBatch: { events: string[]; done: Promise<void> } | undefined
  /** Cluster: slot sweeps in flight, by slot. */
  readonly #slotSweeps = new Map<number, Promise<void>>()
  #resolveStopped!: () => void
  /** Resolves once stop() has finished. */
  readonly stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve
  })

  constructor(connection: Connection, keys: ExpiryKeys, options: SweeperOptions) {
    // Closed by its Expirations (no host); errors go to the Expirations' sink.
    super({ name: 'sweeper', kind: 'expirations', scrubber: connection.scrubber, errors: (error) => options.onError(error) })
    this.#connection = connection
    this.#keys = keys
    this.#options = options
  }

  async start(): Promise<void> {
    this.assertOpen()
    if (this.#running) return
    this.#running = true
    this.#lastReconcile = Date.now()
    // Resubscription after a reconnect is node-redis's job; a wake-up lost meanwhile costs one interval.
    // On Cluster the directory touch publishes to the directory's shard only (SPUBLISH).
    this.#unsubscribe = await this.#connection.pubsub.subscribe(this.#keys.cluster ? 'sharded' : 'channel', this.#keys.wake, {
      message: () => this.wake(),
      resync: (healthy) => {
        if (healthy) this.wake()
      },
    })
    this.wake()
  }

  /** Sweep now (coalesced with a sweep already running). */
  wake(): void {
    if (!this.#running) return
    if (this.#sweeping) {
      this.#again = true
      return
    }
    clearTimeout(this.#timer)
    this.#sweeping = this.#run().finally(() => {
      this.#sweeping = undefined
      if (this.#again) {
        this.#again = false
        this.wake()
      }
    })
  }

  async #run(): Promise<void> {
    let next = -1
    try {
      next = this.#keys.cluster ? await this.#sweepCluster() : await this.#sweepSingle()
      if (this.#keys.cluster && Date.now() - this.#lastReconcile >= this.#options.reconcileIntervalMs) {
        this.#lastReconcile = Date.now()
        await this.#reconcile()
      }
      if (Date.now() - this.#lastTrim >= TRIM_INTERVAL_MS) {
        this.#lastTrim = Date.now()
        await this.trim()
      }
    } catch (error) {
      this.report(error)
    }
    if (!this.#running) return
    const localNow = Date.now()
    const delay =
      next < 0 ? this.#options.maxIntervalMs : Math.max(0, Math.min(this.#options.maxIntervalMs, next - this.#offsetMs - localNow))
    this.#timer = setTimeout(() => this.wake(), delay)
    this.#timer.unref()
  }

  /**
   * Drops the events every group acknowledged once they leave the replay window, the ones some
   * group has not acknowledged once they leave the retention, and kept values once every group
   * acknowledged their event, and temporary groups of killed processes. @returns [events, values, groups] removed
   */
  trim(): Promise<[number, number, number]> {
    return scripts.trim.run(
      this.#connection,
      [this.#keys.stream, this.#keys.eventValues, this.#keys.groups],
      [this.#options.replayMs, this.#options.retentionMs, this.#options.staleGroupMs],
    )
  }

  /** Server clock minus local clock, once a sweep has seen the server's time; undefined before. */
  get offsetMs(): number | undefined {
    return this.#offsetKnown ? this.#offsetMs : undefined
  }

  #learnOffset(serverNow: number): void {
    this.#offsetMs = serverNow - Date.now()
    this.#offsetKnown = true
  }

  #minId(serverNow: number): string {
    return `${Math.max(0, serverNow - this.#options.retentionMs)}-0`
  }

  async #sweepSingle(): Promise<number> {
    const slot = this.#keys.forKey('')
    for (;;) {
      const approxServerNow = Date.now() + this.#offsetMs
      const [examined, , next, serverNow] = await scripts.sweep.run(
        this.#connection,
        [slot.index, slot.values, this.#keys.stream, this.#keys.eventValues, slot.tracked],
        [this.#options.batch, this.#minId(approxServerNow), EVENTS_PER_ENTRY],
      )
      this.#learnOffset(serverNow)
      if (examined < this.#options.batch || !this.#running) return next
    }
  }

  async #sweepCluster(): Promise<number> {
    const { directory, versions } = this.#keys
    for (;;) {
      const serverNow = Date.now() + this.#offsetMs
      // Slots still being swept (a stalled master) are skipped, not waited for: fetch past them.
      const limit = 64 + this.#slotSweeps.size
      const listed = await this.#connection.send<string[]>(
        ['ZRANGE', directory, '-inf', String(serverNow), 'BYSCORE', 'LIMIT', '0', String(limit)],
        { key: directory },
      )
      const due = listed.filter((slot) => !this.#slotSweeps.has(Number(slot)))
      if (due.length > 0) {
        const seen = await this.#connection.send<Array<string | null>>(['HMGET', versions, ...due], { key: versions })
        const batch = due.map((slot, i) => this.#startSlot(Number(slot), seen[i] ?? ''))
        // A slot whose master stalls holds back only itself: the sweep goes on after SLOT_WAIT_MS.
        await withTimeout(Promise.all(batch), SLOT_WAIT_MS, () => undefined)
      }
      if (listed.length < limit || due.length === 0 || !this.#running) break
    }
    // The next slot due that is not still being swept (a stalled one wakes the sweeper when it ends).
    const head = await this.#connection.send<unknown>(['ZRANGE', directory, '0', String(this.#slotSweeps.size), 'WITHSCORES'], {
      key: directory,
    })
    for (const [slot, score] of scorePairs(head)) if (!this.#slotSweeps.has(Number(slot))) return Number(score)
    return -1
  }

  /** Sweeps one slot unless a sweep of it is still running; a late failure is reported, not lost. */
  #startSlot(slot: number, version: string): Promise<void> {
    const running = this.#slotSweeps.get(slot)
    if (running) return running
    const sweep = this.#sweepSlot(slot, version)
      // Awaited by the sweep only for SLOT_WAIT_MS: its error is reported here, whenever it comes.
      .catch((error: unknown) => {
        this.report(error)
      })
      .finally(() => {
        this.#slotSweeps.delete(slot)
        if (slow) this.wake()
      })
    let slow = false
    setTimeout(() => {
      slow = true
    }, SLOT_WAIT_MS).unref()
    this.#slotSweeps.set(slot, sweep)
    return sweep
  }

  async #sweepSlot(slotNumber: number, version: string): Promise<void> {
    const slot = this.#keys.forSlot(slotNumber)
    const keys: [string, string, string, string] = [slot.index, slot.values, slot.claimed, slot.tracked]
    let next = -1
    for (;;) {
      const reply = await scripts.claim.run(this.#connection, keys, [this.#options.batch, this.#options.leaseMs])
      const leaseEnd = String(reply[0])
      this.#learnOffset(Number(reply[1]))
      const events: string[] = []
      const claimed: string[] = [leaseEnd]
      for (let i = 2; i + 2 < reply.length; i += 3) {
        const member = String(reply[i])
        const deadline = String(reply[i + 1])
        claimed.push(member, deadline)
        // An expiry kept aside is indexed as key + separator + deadline; the event names the key.
        const cut = member.indexOf(LAPSED_SEPARATOR)
        events.push(cut === -1 ? member : member.slice(0, cut), deadline, reply[i + 2] == null ? '' : String(reply[i + 2]))
      }
      if (claimed.length > 1) await this.#append(events)
      next = await scripts.release.run(this.#connection, keys, claimed)
      if ((claimed.length - 1) / 2 < this.#options.batch || !this.#running) break
    }
    await scripts.dirSettle.run(this.#connection, [this.#keys.directory, this.#keys.versions], [String(slotNumber), version, next])
  }

  /**
   * Cluster: appends the claimed events of the slot sweeps of one tick in one script call, so that
   * slots holding a few due deadlines each still fill whole stream entries. A failed call fails
   * every slot sweep in it: their claims are re-delivered after the lease.
   */
  #append(events: string[]): Promise<void> {
    let batch = this.#appendBatch
    if (!batch || batch.events.length >= APPEND_MAX_ARGS) {
      const next: { events: string[]; done: Promise<void> } = { events: [], done: Promise.resolve() }
      next.done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        if (this.#appendBatch === next) this.#appendBatch = undefined
        const minId = this.#minId(Date.now() + this.#offsetMs)
        await scripts.append.run(this.#connection, [this.#keys.stream, this.#keys.eventValues], [minId, EVENTS_PER_ENTRY, ...next.events])
      })
      this.#appendBatch = batch = next
    }
    for (const value of events) batch.events.push(value)
    return batch.done
  }

  /**
   * Cluster: a writer that died between writing a deadline and touching the directory leaves a slot
   * the directory does not know. Re-read the head of every slot's index and re-touch the directory.
   */
  async #reconcile(): Promise<void> {
    const lock = this.#keys.directory + ':reconcile'
    const got = await this.#connection.send(['SET', lock, '1', 'NX', 'PX', String(this.#options.reconcileIntervalMs)], { key: lock })
    if (got === null) return
    const touches: string[] = [this.#keys.wake]
    const slots = Array.from({ length: 16384 }, (_, s) => s)
    for (let start = 0; start < slots.length; start += 512) {
      const chunk = slots.slice(start, start + 512)
      const heads = await Promise.all(
        chunk.map((s) => {
          const index = this.#keys.forSlot(s).index
          return this.#connection.send(['ZRANGE', index, '0', '0', 'WITHSCORES'], { key: index, readonly: true })
        }),
      )
      heads.forEach((head, i) => {
        const score = headScore(head)
        if (score >= 0) touches.push(String(chunk[i]), String(score))
      })
    }
    if (touches.length > 1) await scripts.dirTouch.run(this.#connection, [this.#keys.directory, this.#keys.versions], touches)
  }

  /** Stops sweeping; bounded, so that close() returns even while Redis is unreachable. */
  stop(): Promise<void> {
    return this.close()
  }

  protected override async teardown(): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    // A sweep cut short is safe: claims are leased, and the standalone sweep is one atomic script.
    // Both at once: with a frozen node, two bounded waits in a row would add up.
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = undefined
    await Promise.all([
      withTimeout(this.#sweeping ?? Promise.resolve(), STOP_BOUND_MS, () => undefined),
      withTimeout(unsubscribe?.().catch(() => {}) ?? Promise.resolve(), STOP_BOUND_MS, () => undefined),
    ])
    this.#resolveStopped()
  }
}

/** Member/score pairs of a `ZRANGE .. WITHSCORES` reply (flat in RESP2, pairs in RESP3). */
function scorePairs(reply: unknown): Array<[string, string]> {
  if (!Array.isArray(reply)) return []
  if (reply.length > 0 && Array.isArray(reply[0])) return reply.map((pair) => [String(pair[0]), String(pair[1])])
  const out: Array<[string, string]> = []
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), String(reply[i + 1])])
  return out
}

/** Score of the first member of a `ZRANGE .. WITHSCORES` reply (flat in RESP2, pairs in RESP3), or -1. */
export function headScore(reply: unknown): number {
  if (!Array.isArray(reply) || reply.length === 0) return -1
  const first = reply[0]
  const score = Array.isArray(first) ? first[1] : reply[1]
  return score === undefined || score === null ? -1 : Number(score)
}
