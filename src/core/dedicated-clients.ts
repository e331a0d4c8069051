import { closeClient, withTimeout } from './async.js'
import { withNodeClients } from './cluster-retry.js'
import type { NodeRedisClient } from './connection-options.js'
import { ErrorCodes, RedkitError, type SecretScrubber, toRedkitError } from './errors.js'

/** Anything a Connection closes with itself: a client, a sibling Connection. */
export interface Closable {
  close(): Promise<unknown> | unknown
  destroy?(): unknown
}

/**
 * The connections a Connection hands out besides its main one (dedicated connections, per-node
 * duplicates, the sibling): each is connected within connectTimeoutMs and closed with the
 * Connection, so none outlives it or hangs its owner on a node that is gone.
 */
export class DedicatedClients {
  readonly #open = new Set<Closable>()
  readonly #connectTimeoutMs: number
  readonly #scrubber: SecretScrubber
  readonly #closed: () => boolean

  constructor(connectTimeoutMs: number, scrubber: SecretScrubber, closed: () => boolean) {
    this.#connectTimeoutMs = connectTimeoutMs
    this.#scrubber = scrubber
    this.#closed = closed
  }

  /** How long a close waits for replies in flight: 2 s, or connectTimeoutMs when that is shorter. */
  get graceMs(): number {
    return Math.min(2000, this.#connectTimeoutMs)
  }

  /** Closed with the Connection, as it is (a sibling Connection, a given client's duplicate). */
  add(closable: Closable): void {
    this.#open.add(closable)
  }

  /** Everything still open, forgotten here: the Connection's close() closes them. */
  takeAll(): Closable[] {
    const all = [...this.#open]
    this.#open.clear()
    return all
  }

  /**
   * Connects a duplicate within connectTimeoutMs, closing it on failure, and tracks it for close().
   * `what` names it in errors ("to host:port", "for a dedicated connection"). It gets an 'error'
   * listener before connecting: node-redis emits every failed attempt there, and an unheard 'error'
   * would crash the process (the caller adds its own).
   */
  async connect<C extends NodeRedisClient>(client: C, what: string): Promise<C> {
    if (this.#closed()) throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    // node-redis retries a failed handshake for ever; what it last failed on is the cause to report
    // (refused credentials, a command the server disabled), not just "did not connect in time".
    let lastError: unknown
    client.on('error', (error: unknown) => {
      lastError = error
    })
    try {
      await withTimeout(
        client.connect() as Promise<unknown>,
        this.#connectTimeoutMs,
        () => {
          const within = `cannot connect ${what} within ${this.#connectTimeoutMs} ms`
          // A socket that never opened maps to E_CONNECTION; a refusal by the server keeps its own code.
          throw lastError === undefined
            ? new RedkitError(ErrorCodes.E_CONNECTION, within)
            : toRedkitError(lastError, this.#scrubber, within)
        },
        { unref: false },
      )
    } catch (error) {
      await closeClient(client, 0)
      throw toRedkitError(error, this.#scrubber, `cannot open a connection ${what}`)
    }
    if (this.#closed()) {
      await closeClient(client, 0)
      throw new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed')
    }
    return this.#track(client)
  }

  #track<C extends { close(): Promise<unknown> | unknown; destroy?(): unknown; isOpen?: boolean }>(client: C): C {
    this.#open.add(client)
    const original = client.close.bind(client)
    // A graceful close of a connection that is reconnecting to a dead server would wait for it
    // forever: give in-flight replies their grace, then destroy.
    client.close = () => {
      this.#open.delete(client)
      return closeClient(
        withNodeClients({
          close: original,
          destroy: () => client.destroy?.(),
          isOpen: client.isOpen,
          _slots: (client as { _slots?: unknown })._slots,
        }),
        this.graceMs,
      )
    }
    return client
  }
}
