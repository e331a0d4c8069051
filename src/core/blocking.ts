import { ErrorReply } from 'redis'
import { withTimeout } from './async.js'
import type { Connection, NodeRedisClient } from './connection.js'
import { ErrorCodes, RedkitError } from './errors.js'

type Sender = { sendCommand: (...args: unknown[]) => Promise<unknown> }

/**
 * One dedicated connection for blocking commands (BLPOP, XREAD BLOCK): no client-side command
 * timeout, so it is guarded here instead. A reply that has not come `guardMs` after the server-side
 * timeout means the connection is stalled (a paused proxy, a half-open socket): it is destroyed and
 * the next call opens a new one.
 */
export class BlockingConnection {
  readonly #connection: Connection
  #client: NodeRedisClient | undefined
  #opening: Promise<NodeRedisClient> | undefined
  #closed = false

  constructor(connection: Connection) {
    this.#connection = connection
  }

  /** Sends `args` (routed by `key` on Cluster); rejects with E_TIMEOUT after `guardMs` and drops the connection. */
  async call<T>(args: string[], key: string, guardMs: number): Promise<T> {
    const client = await this.#get()
    const sender = client as unknown as Sender
    const topology = this.#connection.topology
    const reply =
      topology === 'cluster'
        ? sender.sendCommand(key, false, args)
        : topology === 'sentinel'
          ? sender.sendCommand(false, args)
          : sender.sendCommand(args)
    try {
      // A stalled connection is dropped, so the next call opens a new one.
      return (await withTimeout(reply, guardMs, () => {
        this.#drop(client)
        throw new RedkitError(ErrorCodes.E_TIMEOUT, `${args[0]}: no reply within ${guardMs} ms; reconnecting`)
      })) as T
    } catch (error) {
      if (error instanceof RedkitError) throw error
      // A reply of the server (WRONGTYPE on a planted key, NOGROUP, NOPERM) is mapped like any
      // command's (E_REDIS, E_PERMISSION...): only a failing connection is E_CONNECTION.
      if (!this.#closed && error instanceof ErrorReply) throw this.#connection.mapError(error, args[0] ?? 'command')
      throw new RedkitError(this.#closed ? ErrorCodes.E_CLOSED : ErrorCodes.E_CONNECTION, `${args[0]}: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  async #get(): Promise<NodeRedisClient> {
    if (this.#closed) throw new RedkitError(ErrorCodes.E_CLOSED, 'the blocking connection is closed')
    if (this.#client) return this.#client
    this.#opening ??= this.#connection.dedicated().then(
      (client) => {
        this.#opening = undefined
        if (this.#closed) {
          this.#drop(client)
          throw new RedkitError(ErrorCodes.E_CLOSED, 'the blocking connection is closed')
        }
        this.#client = client
        return client
      },
      (error: unknown) => {
        this.#opening = undefined
        throw error
      },
    )
    return this.#opening
  }

  #drop(client: NodeRedisClient): void {
    if (this.#client === client) this.#client = undefined
    // close() untracks it from the Connection; destroy() rejects a pending blocking command at once.
    Promise.resolve()
      .then(() => client.close())
      .catch(() => {})
    try {
      client.destroy()
    } catch {
      // already gone
    }
  }

  /** Destroys the connection; a pending blocking command rejects with E_CLOSED. */
  close(): void {
    this.#closed = true
    if (this.#client) this.#drop(this.#client)
  }
}
