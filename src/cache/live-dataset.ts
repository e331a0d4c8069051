import { randomBytes } from 'node:crypto'
import { withTimeout } from '../core/async.js'
import { EmitterComponent } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { errors, type RedkitError, thrownText } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import { count, timerMs } from '../core/validate.js'
import { publishCommand } from './protocol.js'
import { scripts } from './scripts.js'
import { LIVE_MSG } from './wire.js'

export interface LiveDatasetOptions<T> {
  /** Loads the whole dataset from the source of truth; `version` is the one announced when it started. */
  load: (info: { version: number }) => Promise<T> | T
  /** Bound on one load; other instances wait at most this long (plus 2 s) before taking over. @defaultValue 30_000 */
  loadTimeoutMs?: number
}

export interface LiveDatasetUpdate {
  version: number
  /** The version this instance held before (-1: none). */
  previous: number
  /** Whether this instance ran the loader (false: it read the dataset another instance stored). */
  loaded: boolean
}

export interface LiveDatasetEvents {
  update: [LiveDatasetUpdate]
  /** A failed sync (load, decode, Redis); the previous dataset stays in use. */
  error: [RedkitError]
}

/**
 * A whole dataset (a product catalogue, a configuration table) kept in every instance's memory and
 * reloaded everywhere when the source changes: `publishUpdate(version)` announces a version (only
 * a newer one is accepted, atomically), one instance loads it (a lock, like the cache's stampede
 * protection) and stores it in Redis with its version, the others are woken by a message and read
 * that copy. Each instance swaps its in-memory dataset only for a newer version: duplicate and
 * out-of-order announcements are ignored. After a reconnect every instance re-checks (messages may
 * have been missed).
 */
export class LiveDataset<T> extends EmitterComponent<LiveDatasetEvents> {
  readonly #rk: RedkitContext
  readonly #load: LiveDatasetOptions<T>['load']
  readonly #loadTimeoutMs: number
  readonly #meta: string
  readonly #data: string
  readonly #lock: string
  readonly #channel: string
  #value: T | undefined
  #version = -1
  #ready: Promise<T> | undefined
  #syncing: Promise<void> | undefined
  #again = false
  #wake: (() => void) | undefined
  #unsubscribe: (() => Promise<void>) | undefined

  constructor(rk: RedkitContext, name: string, options: LiveDatasetOptions<T>) {
    if (options === null || typeof options !== 'object' || typeof options.load !== 'function')
      throw errors.invalidArgument('liveDataset options', 'an object with a load function')
    const loadTimeoutMs = timerMs(options.loadTimeoutMs ?? 30_000, 'loadTimeoutMs')
    super({ name: validateObjectName(name, 'dataset name'), kind: 'dataset', host: rk })
    this.#rk = rk
    this.#load = options.load
    this.#loadTimeoutMs = loadTimeoutMs
    const own = rk.keys.object(name)
    this.#meta = own('live')
    this.#data = own('live-data')
    this.#lock = own('live-lock')
    this.#channel = own('live-events')
  }

  /** The dataset in memory (undefined until the first sync finished). */
  get value(): T | undefined {
    return this.#value
  }

  /** Version of the dataset in memory (undefined before the first sync). */
  get version(): number | undefined {
    return this.#version < 0 ? undefined : this.#version
  }

  /** Subscribes and syncs once; resolves with the dataset. */
  ready(): Promise<T> {
    if (!this.#ready) {
      const starting = this.#start()
      this.#ready = starting
      // A failed first sync (source down) is retried by the next call.
      starting.catch(() => {
        if (this.#ready === starting) this.#ready = undefined
      })
    }
    return this.#ready
  }

  /** The current dataset (waits for the first sync). */
  async get(): Promise<T> {
    await this.ready()
    return this.#value as T
  }

  /**
   * Announces that the source changed: every instance reloads once. A version not newer than the
   * last announced one is ignored.
   * @returns true when accepted
   */
  async publishUpdate(version: number): Promise<boolean> {
    this.assertOpen()
    count(version, 'version', { allowZero: true })
    return (
      (await scripts.livePublish.run(this.#rk.connection, [this.#meta], [version, this.#channel, publishCommand(this.#rk.connection)])) ===
      1
    )
  }

  /** Re-checks Redis now (normally driven by messages). */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true
      return this.#syncing
    }
    const run = (async () => {
      do {
        this.#again = false
        await this.#syncOnce()
      } while (this.#again && !this.closed)
    })()
    this.#syncing = run
    const clear = () => {
      if (this.#syncing === run) this.#syncing = undefined
    }
    run.then(clear, clear)
    return run
  }

  async #start(): Promise<T> {
    this.assertOpen()
    this.#unsubscribe ??= await this.#rk.connection.pubsub.subscribe(
      this.#rk.connection.topology === 'cluster' ? 'sharded' : 'channel',
      this.#channel,
      {
        message: (text) => this.#onMessage(text),
        resync: (healthy) => {
          if (healthy) this.#background()
        },
      },
    )
    await this.sync()
    return this.#value as T
  }

  #onMessage(text: string): void {
    const type = text.charAt(0)
    const version = Number(text.slice(2))
    if (type === LIVE_MSG.stored) this.#wake?.()
    if ((type === LIVE_MSG.announced || type === LIVE_MSG.stored) && Number.isFinite(version) && version > this.#version) this.#background()
  }

  #background(): void {
    if (this.closed || !this.#unsubscribe) return
    this.sync().catch((error: unknown) => this.report(error))
  }

  async #syncOnce(): Promise<void> {
    const connection = this.#rk.connection
    const lockTtlMs = this.#loadTimeoutMs + 2000
    for (;;) {
      this.assertOpen()
      const token = randomBytes(12).toString('base64url')
      const woken = new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      const reply = await scripts.liveRead.run(connection, [this.#meta, this.#data, this.#lock], [this.#version, token, lockTtlMs])
      if (reply[0] === 0) return
      if (reply[0] === 1) {
        this.#apply(reply[2], this.#rk.codec.decode(reply[3]) as T, false)
        return
      }
      if (reply[0] === 2) {
        await this.#loadAndStore(reply[1], token)
        return
      }
      // Woken by the loader's message, or past its lock's TTL: look again.
      await withTimeout(woken, Math.max(10, reply[2] + 50), () => undefined)
    }
  }

  async #loadAndStore(version: number, token: string): Promise<void> {
    let value: T
    let text: string
    try {
      value = await withTimeout(
        () => this.#load({ version }),
        this.#loadTimeoutMs,
        () => {
          throw errors.timeout(`dataset ${this.name}: load`, this.#loadTimeoutMs)
        },
      )
      text = this.#rk.codec.encode(value)
    } catch (error) {
      const reason = thrownText(error)
      await scripts.unlock
        .run(this.#rk.connection, [this.#lock], [token, this.#channel, `e|${reason}`, publishCommand(this.#rk.connection)])
        .catch(() => {})
      throw error
    }
    const stored = await scripts.liveStore.run(
      this.#rk.connection,
      [this.#meta, this.#data, this.#lock],
      [version, text, token, this.#channel, publishCommand(this.#rk.connection)],
    )
    if (stored === 1) this.#apply(version, value, true)
    else this.#again = true // a newer dataset was stored meanwhile: read it
  }

  #apply(version: number, value: T, loaded: boolean): void {
    if (version <= this.#version) return
    const previous = this.#version
    this.#value = value
    this.#version = version
    if (this.listenerCount('update') > 0) this.emit('update', { version, previous, loaded })
  }

  protected override async teardown(): Promise<void> {
    this.#wake?.()
    await this.#syncing?.catch(() => {})
    await this.#unsubscribe?.()
  }
}
