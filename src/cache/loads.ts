import { withTimeout } from '../core/async.js'
import { ErrorCodes, errors, isRedkitError, RedkitError, thrownText, toRedkitError } from '../core/errors.js'
import { metaOf, parseEntry } from './entry.js'
import type { EntryStore, StoreOptions } from './entry-store.js'
import type { Limiter } from './limiter.js'
import type { CacheParts, Lease } from './parts.js'
import { publishCommand, sendTold, tellMode } from './protocol.js'
import { scripts } from './scripts.js'
import type { AcquireMode, Stampede } from './stampede.js'
import type { GetOrLoadOptions, Loader, RefreshEvent } from './types.js'
import { FAILURE_TEXT_MAX, MSG, message } from './wire.js'

/** Write-behind: the newest write of a key still queued (read-your-writes), else undefined. */
type QueuedWrite<T> = (key: string) => Promise<{ value: T | undefined } | undefined>

type LoadMode = { kind: 'miss' } | { kind: 'refresh'; reason: RefreshEvent['reason']; createdAfter: number; background: boolean }

const noop = () => {}

function unrefDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/**
 * The load coordinator: single flight per key in this process, leases and cross-process single
 * flight through the stampede protocol, the bounded loader call (an AbortSignal, and a call that
 * timed out still counts as running until it settles), refreshes and the fallback when Redis is
 * unreachable.
 */
export class Loads<T> {
  readonly #parts: CacheParts
  readonly #store: EntryStore<T>
  readonly #stampede: Stampede<T>
  readonly #fallback: Limiter | undefined
  readonly #flights = new Map<string, Promise<T | undefined>>()
  readonly #refreshing = new Set<string>()
  /** Loader calls not settled yet, timed out or not: a key never has two at once in this process. */
  readonly #running = new Map<string, Promise<void>>()
  readonly #controllers = new Set<AbortController>()
  readonly #queued: QueuedWrite<T>

  constructor(parts: CacheParts, store: EntryStore<T>, stampede: Stampede<T>, fallback: Limiter | undefined, queued: QueuedWrite<T>) {
    this.#parts = parts
    this.#store = store
    this.#stampede = stampede
    this.#fallback = fallback
    this.#queued = queued
  }

  /** Loads in flight, for close(). */
  flights(): Promise<unknown>[] {
    return [...this.#flights.values()]
  }

  /** close(): every loader still running is told to stop. */
  abortAll(): void {
    for (const controller of this.#controllers) controller.abort(errors.closed(`cache ${this.#parts.name}`))
  }

  miss(key: string, entryKey: string, loader: Loader<T>, options: GetOrLoadOptions<T> | undefined): Promise<T | undefined> {
    const parts = this.#parts
    parts.stats.misses++
    parts.notify('miss', { key })
    const flight = this.#flights.get(key)
    if (flight) {
      parts.stats.coalesced++
      return flight
    }
    return this.#fly(key, this.#load(key, entryKey, loader, storeOptions(options), { kind: 'miss' }))
  }

  refresh(key: string, entryKey: string, loader: Loader<T>, options: GetOrLoadOptions<T> | undefined): Promise<T | undefined> {
    const flight = this.#flights.get(key)
    if (flight) return flight
    const mode: LoadMode = { kind: 'refresh', reason: 'manual', createdAfter: Date.now(), background: false }
    return this.#fly(key, this.#load(key, entryKey, loader, options ? storeOptions(options) : undefined, mode))
  }

  /** Stale-while-revalidate and refresh-ahead: one refresh per key, written with the entry's own options. */
  refreshInBackground(key: string, loader: Loader<T>, text: string, createdAt: number, reason: 'stale' | 'ahead'): void {
    if (this.#refreshing.has(key) || this.#flights.has(key) || this.#parts.closed()) return
    this.#refreshing.add(key)
    let entryKey: string
    try {
      entryKey = this.#parts.keys.entry(key)
    } catch {
      this.#refreshing.delete(key)
      return
    }
    const mode: LoadMode = { kind: 'refresh', reason, createdAfter: createdAt, background: true }
    this.#load(key, entryKey, loader, storeOptionsOf(text), mode)
      .catch((error: unknown) => this.#parts.report(error))
      .finally(() => this.#refreshing.delete(key))
  }

  /** reloadOnExpire: the entry expired; it is loaded again with the options it was written with. */
  async reloadExpired(key: string, loader: Loader<T>, store: StoreOptions<T>): Promise<void> {
    if (this.#parts.closed() || this.#flights.has(key)) return
    const entryKey = this.#parts.keys.entry(key)
    const mode: LoadMode = { kind: 'refresh', reason: 'expired', createdAfter: Date.now(), background: false }
    await this.#fly(key, this.#load(key, entryKey, loader, store, mode))
  }

  /** Redis failed: the loader runs directly (bounded), joined by concurrent callers of the same key. */
  fallbackLoad(key: string, loader: Loader<T>, cause: unknown): Promise<T | undefined> {
    return this.#flights.get(key) ?? this.#fly(key, this.#fallbackRun(key, loader, cause))
  }

  /** Registers an in-process flight (single-flight) and forgets it once settled. */
  #fly(key: string, promise: Promise<T | undefined>): Promise<T | undefined> {
    this.#flights.set(key, promise)
    const clear = () => {
      if (this.#flights.get(key) === promise) this.#flights.delete(key)
    }
    promise.then(clear, clear)
    return promise
  }

  async #load(
    key: string,
    entryKey: string,
    loader: Loader<T>,
    store: StoreOptions<T> | undefined,
    mode: LoadMode,
  ): Promise<T | undefined> {
    const parts = this.#parts
    if (typeof loader !== 'function') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'loader must be a function')
    try {
      if (mode.kind === 'miss' && parts.bloom && !(await this.#mayExist(key))) return undefined
      const acquireMode: AcquireMode =
        mode.kind === 'miss'
          ? { kind: 'miss', createdAfter: 0, background: false }
          : { kind: 'refresh', createdAfter: mode.createdAfter, background: mode.background }
      // Its tags' epochs before the lease: an invalidateTags from now on voids this load (EntryStore.put).
      const tagged = store ? await this.#store.tagEpochs(store) : store
      const acquired = await this.#stampede.acquire(key, entryKey, acquireMode)
      if (acquired.type === 'value') return acquired.value
      if (acquired.type === 'busy') return undefined
      if (acquired.type === 'unstored') return await this.#callLoader(key, loader)
      const options = tagged ?? storeOptionsOf(acquired.existing) ?? { ttlMs: undefined, tags: undefined }
      const value = await this.#lead(key, entryKey, loader, options, acquired.lease, mode.kind === 'refresh')
      if (mode.kind === 'refresh') this.#refreshed(key, mode.reason)
      return value
    } catch (error) {
      if (mode.kind === 'refresh') this.#refreshed(key, mode.reason, error as Error)
      // Inside this key's flight already: run the fallback directly.
      if (isRedkitError(error, ErrorCodes.E_CONNECTION) && mode.kind === 'miss') return this.#fallbackRun(key, loader, error)
      throw error
    }
  }

  /**
   * The penetration guard fails open: "absent" is trusted only while the filter exists. A filter
   * that was evicted, flushed or cleared answers "absent" for every key, so the loader runs.
   */
  async #mayExist(key: string): Promise<boolean> {
    const bloom = this.#parts.bloom
    if (!bloom || (await bloom.mightContain(key))) return true
    return !(await bloom.exists())
  }

  /** Counted only for refreshes that ran a loader (a refresh another process did is not one). */
  #refreshed(key: string, reason: RefreshEvent['reason'], error?: Error): void {
    if (!error) this.#parts.stats.refreshes++
    this.#parts.notify('refresh', error ? { key, reason, error } : { key, reason })
  }

  async #lead(
    key: string,
    entryKey: string,
    loader: Loader<T>,
    store: StoreOptions<T>,
    lease: Lease,
    invalidate: boolean,
  ): Promise<T | undefined> {
    let value: T | undefined
    let running: Promise<void> | undefined
    try {
      // Read-your-writes: a write still queued for the source is newer than what the source holds.
      const queued = await this.#queued(key)
      value = queued
        ? queued.value
        : await this.#callLoader(key, loader, (settled) => {
            running = settled
          })
    } catch (error) {
      if (lease.token) this.#failed(key, entryKey, lease, error, running)
      throw error
    }
    await this.#store.storeLoaded(key, entryKey, value, store, lease, invalidate)
    return value
  }

  /**
   * Tells the waiters the load failed. A loader that timed out keeps the lock until it settles, so
   * no second loader starts meanwhile; then the lock goes and the waiters read again.
   */
  #failed(key: string, entryKey: string, lease: Lease, error: unknown, running: Promise<void> | undefined): void {
    const parts = this.#parts
    const lockKey = parts.keys.lock(entryKey)
    const failure = message(MSG.failed, parts.instance, `${key}\n${this.#failureText(error)}`)
    const report = (unlockError: unknown) => parts.report(unlockError)
    if (running === undefined) {
      scripts.unlock
        .run(parts.connection, [lockKey], [lease.token, parts.keys.channel, failure, tellMode(parts.connection)])
        .then((reply) => sendTold(parts, reply))
        .catch(report)
      return
    }
    parts.connection.send([publishCommand(parts.connection), parts.keys.channel, failure], { key: parts.keys.channel }).catch(report)
    void running.then(() =>
      scripts.unlock
        .run(
          parts.connection,
          [lockKey],
          [lease.token, parts.keys.channel, message(MSG.invalidate, parts.instance, key), tellMode(parts.connection)],
        )
        .then((reply) => sendTold(parts, reply))
        .catch(report),
    )
  }

  /** What other processes hear of a loader's failure: its first line, scrubbed of credentials, cut short. */
  #failureText(error: unknown): string {
    const text = thrownText(error)
    const line = text.split('\n', 1)[0] ?? ''
    return this.#parts.connection.scrubber.scrub(line).slice(0, FAILURE_TEXT_MAX)
  }

  /**
   * Calls the loader, bounded by loadTimeoutMs, with an AbortSignal that fires at the timeout (and
   * at close). One call per key at a time: a call that timed out still counts until it settles.
   */
  async #callLoader(key: string, loader: Loader<T>, onTimeout?: (settled: Promise<void>) => void): Promise<T | undefined> {
    const parts = this.#parts
    const ms = parts.settings.loadTimeoutMs
    const what = `cache ${parts.name}: loader for '${key}'`
    const started = performance.now()
    try {
      const previous = this.#running.get(key)
      if (previous)
        await withTimeout(previous, ms, () => {
          throw errors.timeout(`${what} (an earlier call that timed out is still running)`, ms)
        })
      const controller = new AbortController()
      const pending = Promise.resolve().then(() => loader(key, { signal: controller.signal }))
      // A loader that never settles stops counting after the lock TTL (its lock is gone by then too).
      const settled = Promise.race([pending.then(noop, noop), unrefDelay(parts.settings.lockTtlMs)])
      this.#running.set(key, settled)
      this.#controllers.add(controller)
      void settled.then(() => {
        if (this.#running.get(key) === settled) this.#running.delete(key)
        this.#controllers.delete(controller)
      })
      const value = await withTimeout(pending, ms, () => {
        const timeout = errors.timeout(what, ms)
        controller.abort(timeout)
        onTimeout?.(settled)
        throw timeout
      })
      parts.stats.loads++
      parts.notify('load', { key, durationMs: performance.now() - started })
      return value
    } catch (error) {
      parts.stats.loadErrors++
      parts.notify('load', { key, durationMs: performance.now() - started, error: error as Error })
      throw error
    }
  }

  async #fallbackRun(key: string, loader: Loader<T>, cause: unknown): Promise<T | undefined> {
    const parts = this.#parts
    const error = toRedkitError(cause, parts.connection.scrubber, `cache ${parts.name}`)
    if (error.code !== ErrorCodes.E_CONNECTION || !this.#fallback || parts.closed()) throw error
    parts.stats.fallbacks++
    parts.notify('fallback', { key, error })
    const result = await this.#fallback.run(() => this.#callLoader(key, loader))
    if (!result) throw error
    return result.value
  }
}

function storeOptions<T>(options: GetOrLoadOptions<T> | undefined): StoreOptions<T> {
  return { ttlMs: options?.ttlMs, tags: options?.tags }
}

/** The options an entry was written with, read from its header ('' or no header: none). */
function storeOptionsOf<T>(text: string): StoreOptions<T> | undefined {
  if (!text) return undefined
  const entry = parseEntry(text)
  const meta = entry && metaOf(text, entry)
  return meta ? { ttlMs: meta.ttlMs, tags: meta.tags } : undefined
}
