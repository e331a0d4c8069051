import { EventEmitter } from 'node:events'
import { type Clock, systemClock } from './clock.js'
import type { Closer } from './context.js'
import { ErrorCodes, errors, isRedkitError, RedkitError, SecretScrubber, toRedkitError } from './errors.js'

/**
 * The lifecycle every long-lived redkit class shares (learnt from River's startstop and
 * baseservice): a name, `assertOpen()`, an idempotent `close()` registered with the redkit
 * instance, `report(error)` that always yields a scrubbed RedkitError, and an injectable clock.
 *
 * Two bases carry it, because some components are EventEmitters and others cannot be (their own
 * `on()` means something else, as `rk.expirations.on(pattern, handler)` does):
 * - `EmitterComponent<Events>` extends EventEmitter and emits `error` on itself;
 * - `Component` delivers errors to the `errors` sink its options name (`this.events`, a hook).
 * Both delegate to one `Lifecycle`, so closing, error reporting and time live in one place.
 */

/** What a component needs from the redkit instance: RedkitContext fits. */
export interface ComponentHost {
  onClose(closer: Closer): () => void
  readonly connection?: { readonly scrubber: SecretScrubber }
}

/** Where reported errors go when the component is not an emitter itself. */
export type ErrorSink =
  | ((error: RedkitError) => void)
  | { listenerCount(event: 'error'): number; emit(event: 'error', error: RedkitError): boolean }

export interface ComponentOptions {
  /** The component's own name (`users` for `rk.cache('users')`). */
  readonly name: string
  /** What kind of component it is (`cache`): errors then say `cache users: ...`, `cache users is closed`. */
  readonly kind?: string
  /**
   * The redkit instance (its RedkitContext): `close()` is registered with it, and its scrubber
   * cleans reported errors. Leave it out for parts their owner closes (a cache's near cache).
   */
  readonly host?: ComponentHost
  /** Used when there is no host, or to override the host's. @defaultValue the host's, else one that redacts URL credentials */
  readonly scrubber?: SecretScrubber
  /** @defaultValue systemClock */
  readonly clock?: Clock
}

export type LifecycleState = 'open' | 'closing' | 'closed'

/** The engine both bases delegate to; usable on its own by a class that must keep its own base. */
export class Lifecycle {
  readonly name: string
  /** `<kind> <name>`, or the name alone: how errors name the component. */
  readonly label: string
  readonly clock: Clock
  readonly scrubber: SecretScrubber
  #state: LifecycleState = 'open'
  #closing: Promise<void> | undefined
  #errorCount = 0
  #unregister: (() => void) | undefined
  readonly #teardown: () => Promise<void> | void
  readonly #deliver: (error: RedkitError) => void

  constructor(options: ComponentOptions, teardown: () => Promise<void> | void, deliver: (error: RedkitError) => void) {
    this.name = options.name
    this.label = options.kind ? `${options.kind} ${options.name}` : options.name
    this.clock = options.clock ?? systemClock
    this.scrubber = options.scrubber ?? options.host?.connection?.scrubber ?? new SecretScrubber()
    this.#teardown = teardown
    this.#deliver = deliver
    if (options.host) this.attach(options.host)
  }

  /**
   * Registers `close()` with the redkit instance, once. Components created per call (a presence
   * handle) attach only when they start holding something `rk.close()` must stop.
   */
  attach(host: ComponentHost): void {
    if (this.#unregister || this.#state !== 'open') return
    this.#unregister = host.onClose(() => this.close())
  }

  get state(): LifecycleState {
    return this.#state
  }

  get errorCount(): number {
    return this.#errorCount
  }

  assertOpen(): void {
    if (this.#state !== 'open') throw errors.closed(this.label)
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closing'
      this.#unregister?.()
      try {
        await this.#teardown()
      } finally {
        this.#state = 'closed'
      }
    })()
    return this.#closing
  }

  /** For a constructor that fails after registering: unregisters, and close() becomes a no-op. */
  abandon(): void {
    this.#state = 'closed'
    this.#closing ??= Promise.resolve()
    this.#unregister?.()
  }

  report(error: unknown, context?: string): RedkitError | undefined {
    // Work cut short by close() is expected, not an error worth telling anyone about.
    if (this.#state !== 'open' && isRedkitError(error, ErrorCodes.E_CLOSED)) return undefined
    const clean = scrub(toRedkitError(error, this.scrubber, context ?? this.label), this.scrubber)
    this.#errorCount++
    this.#deliver(clean)
    return clean
  }
}

/** A RedkitError whose message could still hold a secret (a loader's text) is rebuilt scrubbed. */
function scrub(error: RedkitError, scrubber: SecretScrubber): RedkitError {
  const message = scrubber.scrub(error.message)
  if (message === error.message) return error
  const copy = new RedkitError(error.code, message, { cause: error.cause, details: error.details })
  if (error.stack) copy.stack = scrubber.scrub(error.stack)
  return copy
}

function deliverTo(sink: ErrorSink | undefined, error: RedkitError): void {
  if (sink === undefined) return
  if (typeof sink === 'function') {
    try {
      sink(error)
    } catch {
      // An error hook that throws must not take the component down.
    }
    return
  }
  // An 'error' event with no listener would crash the process.
  if (sink.listenerCount('error') > 0) sink.emit('error', error)
}

export interface QuietComponentOptions extends ComponentOptions {
  /** Where reported errors go (or override `errorSink()`). Nothing listens: they are counted and dropped. */
  readonly errors?: ErrorSink
}

/** The lifecycle base for a component that is not an EventEmitter itself. */
export abstract class Component {
  readonly #life: Lifecycle

  constructor(options: QuietComponentOptions) {
    this.#life = new Lifecycle(
      options,
      () => this.teardown(),
      (error) => deliverTo(this.errorSink() ?? options.errors, error),
    )
  }

  /** Where reported errors go; override to name a sink that exists only after `super()` (`this.events`). */
  protected errorSink(): ErrorSink | undefined {
    return undefined
  }

  get name(): string {
    return this.#life.name
  }

  /** `<kind> <name>`: how errors name this component. */
  protected get label(): string {
    return this.#life.label
  }

  /** `'closing'` from the first `close()` until its teardown finished, then `'closed'`. */
  get state(): LifecycleState {
    return this.#life.state
  }

  /** Errors reported so far (E_CLOSED after close is not counted). */
  get errorCount(): number {
    return this.#life.errorCount
  }

  protected get clock(): Clock {
    return this.#life.clock
  }

  protected get closed(): boolean {
    return this.#life.state !== 'open'
  }

  /** @throws RedkitError E_CLOSED once `close()` was called. */
  assertOpen(): void {
    this.#life.assertOpen()
  }

  /**
   * Idempotent: every call returns the same promise, settled when `teardown()` finished. Safe
   * before anything started; unregisters from the redkit instance.
   */
  close(): Promise<void> {
    return this.#life.close()
  }

  /** Scrubs, wraps into a RedkitError, counts and delivers `error`; returns it (undefined when dropped). */
  protected report(error: unknown, context?: string): RedkitError | undefined {
    return this.#life.report(error, context)
  }

  /** Call when the subclass constructor fails after `super()`: the half-built component unregisters. */
  protected abandon(): void {
    this.#life.abandon()
  }

  /** Registers `close()` with the redkit instance now (once), for a component created without `host`. */
  protected attach(host: ComponentHost): void {
    this.#life.attach(host)
  }

  /** Releases what the component holds; runs once, on the first `close()`. */
  protected teardown(): Promise<void> | void {}
}

/** Every emitter component emits `error`. */
export type ComponentEvents = { error: [RedkitError] }

/** The lifecycle base for a component that is an EventEmitter and emits `error` on itself. */
export abstract class EmitterComponent<Events extends Record<keyof Events, unknown[]> = ComponentEvents> extends EventEmitter<Events> {
  readonly #life: Lifecycle

  constructor(options: ComponentOptions) {
    super()
    this.#life = new Lifecycle(
      options,
      () => this.teardown(),
      (error) => deliverTo(this as unknown as ErrorSink, error),
    )
  }

  get name(): string {
    return this.#life.name
  }

  /** `<kind> <name>`: how errors name this component. */
  protected get label(): string {
    return this.#life.label
  }

  get state(): LifecycleState {
    return this.#life.state
  }

  get errorCount(): number {
    return this.#life.errorCount
  }

  protected get clock(): Clock {
    return this.#life.clock
  }

  protected get closed(): boolean {
    return this.#life.state !== 'open'
  }

  assertOpen(): void {
    this.#life.assertOpen()
  }

  close(): Promise<void> {
    return this.#life.close()
  }

  protected report(error: unknown, context?: string): RedkitError | undefined {
    return this.#life.report(error, context)
  }

  /** Call when the subclass constructor fails after `super()`: the half-built component unregisters. */
  protected abandon(): void {
    this.#life.abandon()
  }

  /** Registers `close()` with the redkit instance now (once), for a component created without `host`. */
  protected attach(host: ComponentHost): void {
    this.#life.attach(host)
  }

  protected teardown(): Promise<void> | void {}
}
