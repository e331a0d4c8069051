import { randomBytes } from 'node:crypto'
import { withTimeout } from '../core/async.js'
import { backoffDelay, sleep, validateBackoff, validateMs } from '../core/backoff.js'
import { BlockingConnection } from '../core/blocking.js'
import type { Codec } from '../core/codec.js'
import { Component } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import { count, timerMs } from '../core/validate.js'
import type { CacheKeys } from './cache-keys.js'
import { type DeadLetter, readDeadLetters, replayDeadLetters } from './dead-letters.js'
import { type EncodedValue, KIND_CODEC, KIND_JSON } from './entry.js'
import { scripts } from './scripts.js'
import type { CacheWriter, WriteBehindOptions } from './types.js'
import { WB_FIELD } from './wire.js'
import { checkWriteBehindServer } from './write-behind-checks.js'

export type { DeadLetter }

const GROUP = 'writers'
const BLOCK_MS = 1000
/** A blocking read with no reply this long after its server-side timeout means a stalled connection. */
const STALL_GUARD_MS = 5000

export interface WriteBehindHooks {
  error(error: RedkitError): void
  /**
   * A write failed its last attempt and went to the dead letters; `newest` when no newer write of
   * its key is queued (the cached copy is then ahead of the source).
   */
  dead(letter: DeadLetter & { newest: boolean }): void
  /** A write reached the source: loads of its key that started before must not store. */
  applied(key: string): Promise<void>
}

interface PendingWrite {
  id: string
  key: string
  op: 'set' | 'delete'
  value: string
}

/**
 * Write-behind through a durable Redis stream (`<prefix>:{<cache>}:wb`): `set` appends the write
 * (and returns once Redis has it), any instance with a writer drains the stream through a consumer
 * group. A write is acknowledged and deleted only after the writer succeeded; a process that dies
 * holding writes leaves them pending, and another consumer claims them after `claimIdleMs`.
 * At-least-once: a writer may see a write twice (make it idempotent). Per key, a write superseded by
 * a newer queued one is skipped (the newest id of each key is recorded by the same script).
 */
export class WriteBehind<T> extends Component {
  readonly #rk: RedkitContext
  readonly #keys: CacheKeys
  readonly #codec: Codec
  readonly #writer: CacheWriter<T>
  readonly #hooks: WriteBehindHooks
  readonly #attempts: number
  readonly #claimIdleMs: number
  readonly #batch: number
  readonly #flushTimeoutMs: number
  readonly #backoff: NonNullable<WriteBehindOptions['backoff']>
  readonly #consumer = `c-${randomBytes(6).toString('hex')}`
  #blocking: BlockingConnection | undefined
  #loop: Promise<void> | undefined
  #claimTimer: NodeJS.Timeout | undefined
  #inFlight = new Set<Promise<void>>()
  /** The last write being applied per key: a key's writes run in stream order, one at a time. */
  readonly #keyTails = new Map<string, Promise<void>>()
  #applying = 0
  /** Ids of the writes this consumer is applying: a reclaim that takes them back leaves them be. */
  readonly #active = new Set<string>()
  #reclaiming = false
  #group: Promise<void> | undefined
  /** The group existed once: creating it again means it was lost. */
  #hadGroup = false

  constructor(
    rk: RedkitContext,
    keys: CacheKeys,
    codec: Codec,
    writer: CacheWriter<T>,
    options: WriteBehindOptions,
    hooks: WriteBehindHooks,
  ) {
    // Closed by its cache (close() drains), not registered with rk.close() itself.
    super({ name: keys.name, kind: 'write-behind', scrubber: rk.connection.scrubber, errors: (error) => hooks.error(error) })
    this.#rk = rk
    this.#keys = keys
    this.#codec = codec
    this.#writer = writer
    this.#hooks = hooks
    this.#attempts = options.attempts ?? 5
    if (!Number.isSafeInteger(this.#attempts) || this.#attempts < 1)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'writeBehind.attempts must be a positive integer')
    this.#claimIdleMs = validateMs(options.claimIdleMs ?? 30_000, 'writeBehind.claimIdleMs')
    this.#batch = count(options.batch ?? 100, 'writeBehind.batch')
    this.#flushTimeoutMs = timerMs(options.flushTimeoutMs ?? 10_000, 'writeBehind.flushTimeoutMs')
    // Checked now: thrown inside a retry, a bad backoff would skip the ack and the dead letters for ever.
    this.#backoff = validateBackoff(options.backoff, 'writeBehind.backoff') ?? { delayMs: 200, maxDelayMs: 5000 }
  }

  /** Appends a write to the stream. @returns its stream id */
  enqueue(key: string, op: 'set' | 'delete', value: EncodedValue | undefined): Promise<string> {
    const text = value ? `${value.kind}${value.payload}` : ''
    return scripts.wbAdd.run(
      this.#rk.connection,
      [this.#keys.stream, this.#keys.latest, this.#keys.deadAt, this.#keys.queued],
      [key, op, text],
    )
  }

  /**
   * The newest queued write of `key` not applied yet, for read-your-writes: a miss serves it rather
   * than the source's older value. Undefined when none is queued.
   */
  async queued(key: string): Promise<{ op: 'set' | 'delete'; value: T | undefined } | undefined> {
    const connection = this.#rk.connection
    const id = await connection.send<string | null>(['HGET', this.#keys.latest, key], { key: this.#keys.latest })
    if (!id) return undefined
    const reply = await connection.send<unknown>(['XRANGE', this.#keys.stream, id, id], { key: this.#keys.stream })
    const write = parseEntries([[this.#keys.stream, reply]])[0]
    if (!write || write.key !== key) return undefined
    return write.op === 'delete' ? { op: 'delete', value: undefined } : { op: 'set', value: this.#decode(write.value) }
  }

  /** The dead letters, oldest first (at most `limit`). */
  deadLetters(limit = 100): Promise<DeadLetter[]> {
    return readDeadLetters(this.#rk.connection, this.#keys, limit)
  }

  /**
   * Queues dead letters again (oldest first, at most `limit`); a dead write whose key has a newer
   * write queued is dropped. @returns writes queued again
   */
  replayDeadLetters(limit = 1000): Promise<number> {
    return replayDeadLetters(this.#rk.connection, this.#keys, limit)
  }

  /** Writes queued and not yet done (across every instance). */
  async pending(): Promise<number> {
    return this.#rk.connection.send<number>(['XLEN', this.#keys.stream], { key: this.#keys.stream })
  }

  /** Starts draining in this process. */
  start(): void {
    if (this.#loop || this.closed) return
    checkWriteBehindServer(this.#rk.connection, this.#keys.name)
      .then((problems) => {
        for (const problem of problems) this.#hooks.error(problem)
      })
      .catch((error: unknown) => this.#report(error, 'write-behind server check'))
    this.#loop = this.#run()
    const interval = Math.max(100, Math.floor(this.#claimIdleMs / 2))
    this.#claimTimer = setInterval(() => this.#track(this.#reclaim()), interval)
    this.#claimTimer.unref()
  }

  /**
   * Creates the consumer group once; again after a read or claim failed (`#groupMayBeGone`). A group
   * created where this drain had one before means the stream or its group was lost (the key
   * deleted or replaced, a restart without persistence): reported once, by the instance that
   * recreated it, and the drain goes on with the writes queued since.
   */
  async #ensureGroup(): Promise<void> {
    this.#group ??= this.#rk.connection
      .send(['XGROUP', 'CREATE', this.#keys.stream, GROUP, '0', 'MKSTREAM'], { key: this.#keys.stream })
      .then(
        () => {
          if (this.#hadGroup) this.#hooks.error(groupLost(this.#keys.stream))
          this.#hadGroup = true
        },
        (error: unknown) => {
          if (error instanceof Error && /BUSYGROUP/.test(error.message)) {
            this.#hadGroup = true
            return
          }
          this.#group = undefined
          throw error
        },
      )
    return this.#group
  }

  /** After a failed read or claim: the group is created again (BUSYGROUP when it is still there). */
  #groupMayBeGone(): void {
    this.#group = undefined
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.closed) {
      try {
        await this.#ensureGroup()
        const reply = await this.#blockingRead()
        failures = 0
        const writes = parseEntries(reply)
        if (writes.length > 0) await this.#track(this.#process(writes, false))
      } catch (error) {
        if (this.closed) break
        failures++
        this.#groupMayBeGone()
        this.#report(error, 'write-behind read')
        await sleep(backoffDelay(failures, { delayMs: 100, maxDelayMs: 2000 })).catch(() => {})
      }
    }
  }

  #track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((error: unknown) => this.#report(error, 'write-behind'))
    this.#inFlight.add(tracked)
    tracked.finally(() => this.#inFlight.delete(tracked))
    return tracked
  }

  /** One blocking read on a guarded dedicated connection: a stalled one is dropped and reopened. */
  #blockingRead(): Promise<unknown> {
    this.#blocking ??= new BlockingConnection(this.#rk.connection)
    const stream = this.#keys.stream
    const args = [
      'XREADGROUP',
      'GROUP',
      GROUP,
      this.#consumer,
      'COUNT',
      String(this.#batch),
      'BLOCK',
      String(BLOCK_MS),
      'STREAMS',
      stream,
      '>',
    ]
    return this.#blocking.call(args, stream, BLOCK_MS + STALL_GUARD_MS)
  }

  /** Takes over writes held too long by consumers that stopped (crashed processes). */
  async #reclaim(): Promise<void> {
    if (this.closed || this.#reclaiming) return
    this.#reclaiming = true
    try {
      await this.#reclaimAll()
    } finally {
      this.#reclaiming = false
    }
  }

  async #reclaimAll(): Promise<void> {
    await this.#ensureGroup()
    let cursor = '0-0'
    do {
      const reply = await this.#rk.connection
        .send<[string, unknown, unknown]>(
          ['XAUTOCLAIM', this.#keys.stream, GROUP, this.#consumer, String(this.#claimIdleMs), cursor, 'COUNT', String(this.#batch)],
          { key: this.#keys.stream },
        )
        .catch((error: unknown) => {
          this.#groupMayBeGone()
          throw error
        })
      cursor = String(reply[0])
      // Writes this consumer is still applying go idle too (a writer call that hangs): claiming them
      // again must not wait on them, or the writes of consumers that died are never taken over.
      const writes = parseEntries([[this.#keys.stream, reply[1]]]).filter((write) => !this.#active.has(write.id))
      if (writes.length > 0) await this.#process(writes, false)
    } while (cursor !== '0-0' && !this.closed)
  }

  /**
   * Runs the writer for a batch: superseded writes are acknowledged at once, the rest applied and
   * each acknowledged as soon as it is done. The read loop does not wait for a write that is being
   * retried (one failing key must not stall the others); a key's writes still run in order.
   * @returns once every write of the batch is done
   */
  async #process(writes: PendingWrite[], wait = true): Promise<void> {
    const newestInBatch = new Map<string, PendingWrite>()
    for (const write of writes) newestInBatch.set(write.key, write)
    const keys = [...newestInBatch.keys()]
    const latest = await this.#rk.connection.send<Array<string | null>>(['HMGET', this.#keys.latest, ...keys], { key: this.#keys.latest })
    const done: PendingWrite[] = writes.filter((w) => newestInBatch.get(w.key) !== w)
    const todo: PendingWrite[] = []
    keys.forEach((key, i) => {
      const write = newestInBatch.get(key) as PendingWrite
      const newest = latest[i]
      if (newest && compareIds(newest, write.id) > 0) done.push(write)
      else todo.push(write)
    })
    if (done.length > 0) await this.#ack(done)
    const applied = Promise.all(todo.map((write) => this.#inOrder(write)))
    if (wait) {
      await applied
      return
    }
    this.#track(applied.then(() => undefined))
    // Bounded: the loop reads on only while few writes are still being applied.
    while (this.#applying >= this.#batch * 2 && !this.closed) await Promise.race([...this.#keyTails.values()])
  }

  #inOrder(write: PendingWrite): Promise<void> {
    const previous = this.#keyTails.get(write.key)
    this.#applying++
    this.#active.add(write.id)
    const run = (previous ?? Promise.resolve())
      .then(async () => {
        if (await this.#apply(write)) await this.#ack([write])
      })
      .catch((error: unknown) => this.#report(error, 'write-behind'))
      .finally(() => {
        this.#applying--
        this.#active.delete(write.id)
        if (this.#keyTails.get(write.key) === run) this.#keyTails.delete(write.key)
      })
    this.#keyTails.set(write.key, run)
    return run
  }

  #ack(writes: PendingWrite[]): Promise<number> {
    const args = [GROUP]
    for (const write of writes) args.push(write.id, write.key)
    return scripts.wbAck.run(this.#rk.connection, [this.#keys.stream, this.#keys.latest, this.#keys.queued], args)
  }

  /** True when a newer write of the key is queued (this one need not be applied any more). */
  async #superseded(write: PendingWrite): Promise<boolean> {
    const newest = await this.#rk.connection.send<string | null>(['HGET', this.#keys.latest, write.key], { key: this.#keys.latest })
    return newest !== null && compareIds(newest, write.id) > 0
  }

  /** @returns true when written (to acknowledge), false when dead-lettered or abandoned */
  async #apply(write: PendingWrite): Promise<boolean> {
    let lastError: unknown
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      try {
        const info = { id: write.id, attempt }
        if (write.op === 'delete') await this.#writer.delete?.(write.key, info)
        else await this.#writer.write(write.key, this.#decode(write.value), info)
        await this.#hooks.applied(write.key).catch((error: unknown) => this.#report(error, 'write-behind'))
        return true
      } catch (error) {
        lastError = error
        if (error instanceof RedkitError && error.code === ErrorCodes.E_DECODE) break
        if (attempt === this.#attempts) break
        await sleep(backoffDelay(attempt, this.#backoff)).catch(() => {})
        if (this.closed) return false // left pending: another consumer (or the next start) takes it over
        if (await this.#superseded(write).catch(() => false)) return true
        // Still ours: reset the idle time so no other consumer takes it over meanwhile.
        await this.#rk.connection
          .send(['XCLAIM', this.#keys.stream, GROUP, this.#consumer, '0', write.id, 'JUSTID'], { key: this.#keys.stream })
          .catch(() => {})
      }
    }
    const message = lastError instanceof Error ? lastError.message : String(lastError)
    const [, newest] = await scripts.wbDead.run(
      this.#rk.connection,
      [this.#keys.stream, this.#keys.latest, this.#keys.dead, this.#keys.deadAt, this.#keys.queued],
      [GROUP, write.id, write.key, write.op, write.value, message.slice(0, 1000), this.#attempts],
    )
    this.#hooks.dead({ id: write.id, key: write.key, op: write.op, error: message, attempts: this.#attempts, newest: newest === 1 })
    return false
  }

  #decode(text: string): T {
    const kind = text.charCodeAt(0)
    const payload = text.slice(1)
    if (kind === KIND_CODEC) return this.#codec.decode(payload) as T
    if (kind === KIND_JSON) {
      try {
        return JSON.parse(payload) as T
      } catch (error) {
        throw new RedkitError(ErrorCodes.E_DECODE, `write-behind value is not valid JSON: ${(error as Error).message}`, { cause: error })
      }
    }
    throw new RedkitError(ErrorCodes.E_DECODE, 'write-behind value has an unknown kind')
  }

  /**
   * Stops reading and drains what is left: the writes being applied, this consumer's
   * unacknowledged writes, then new ones, until the stream is empty or `flushTimeoutMs` passed.
   * Writes left over (a writer call that hangs included) stay in the stream for another instance.
   */
  protected override async teardown(): Promise<void> {
    clearInterval(this.#claimTimer)
    this.#blocking?.close()
    // One deadline for all of it: a writer call that never settles must not hold close() for ever.
    const drain = async () => {
      await this.#loop
      await Promise.allSettled([...this.#inFlight])
      await this.#flush()
    }
    try {
      await withTimeout(drain, this.#flushTimeoutMs, () => undefined)
    } catch (error) {
      this.#report(error, 'write-behind flush')
    }
  }

  async #flush(): Promise<void> {
    await this.#ensureGroup()
    for (const from of ['0', '>']) {
      for (;;) {
        const reply = await this.#rk.connection.send(
          ['XREADGROUP', 'GROUP', GROUP, this.#consumer, 'COUNT', String(this.#batch), 'STREAMS', this.#keys.stream, from],
          { key: this.#keys.stream },
        )
        const writes = parseEntries(reply)
        if (writes.length === 0) break
        await this.#process(writes)
      }
    }
  }

  #report(error: unknown, context: string): void {
    // Work cut short by close() (E_CLOSED) is dropped by report().
    this.report(error, context)
  }
}

function groupLost(stream: string): RedkitError {
  return new RedkitError(
    ErrorCodes.E_REDIS,
    `write-behind stream ${stream} lost its consumer group (the key was deleted or replaced, or Redis restarted without persistence): writes queued before may be lost; the group was created again and the drain goes on`,
  )
}

/** Stream ids `ms-seq` compared numerically. */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  return Number(am) - Number(bm) || Number(as) - Number(bs)
}

/** The pending writes of an XREADGROUP / XAUTOCLAIM reply. */
function parseEntries(reply: unknown): PendingWrite[] {
  return entriesOf(reply).map(([id, fields]) => {
    const record = fieldsToRecord(fields)
    return {
      id,
      key: record[WB_FIELD.key] ?? '',
      op: record[WB_FIELD.op] === 'delete' ? 'delete' : 'set',
      value: record[WB_FIELD.value] ?? '',
    }
  })
}
