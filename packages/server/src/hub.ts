import { EventEmitter } from 'node:events'

/** One live event for the dashboard's stream (`GET /api/events`). */
export interface HubEvent {
  type: string
  at: number
  data: unknown
}

/**
 * The in-process fan-out behind the live event stream: components publish what happened (an
 * expiry fired, a device went offline, a job died), every open SSE stream gets it. Slow streams
 * drop nothing here: each writes to its own socket, and a closed one unsubscribes.
 */
export class EventHub {
  readonly #emitter = new EventEmitter()
  #sequence = 0

  constructor() {
    this.#emitter.setMaxListeners(0)
  }

  publish(type: string, data: unknown): void {
    this.#sequence++
    this.#emitter.emit('event', { type, at: Date.now(), data } satisfies HubEvent)
  }

  /** @returns the unsubscribe function */
  subscribe(listener: (event: HubEvent) => void): () => void {
    this.#emitter.on('event', listener)
    return () => this.#emitter.off('event', listener)
  }

  get listeners(): number {
    return this.#emitter.listenerCount('event')
  }

  get published(): number {
    return this.#sequence
  }
}

/** Nearest-rank percentile of `values` (0 < p <= 100); undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]
}

/** A bounded list that keeps the newest `size` items. */
export class Ring<T> {
  readonly #items: T[] = []
  constructor(readonly size: number) {}
  push(item: T): void {
    this.#items.push(item)
    if (this.#items.length > this.size) this.#items.splice(0, this.#items.length - this.size)
  }
  toArray(): T[] {
    return [...this.#items]
  }
  get length(): number {
    return this.#items.length
  }
}
