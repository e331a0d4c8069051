import type { SendOptions } from './connection-options.js'
import { ErrorCodes, RedkitError } from './errors.js'
import type { ScriptConnection } from './scripts.js'
import { positiveInteger, timerMs } from './validate.js'

/**
 * `durable: { replicas, timeoutMs }`: a write resolves only once `replicas` replicas have it (Redis
 * `WAIT`), so a failover right after the reply cannot lose it. WAIT blocks the connection it runs
 * on, so durable writes go through a connection of their own and never hold up the shared one.
 */
export interface DurableOptions {
  /** Replicas that must acknowledge the write, 1 or more. */
  replicas: number
  /** How long to wait for them, 1 ms to 2^31-1 ms. */
  timeoutMs: number
}

export function validateDurable(value: unknown, what = 'durable'): DurableOptions | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be { replicas, timeoutMs }`)
  const { replicas, timeoutMs } = value as Record<string, unknown>
  return { replicas: positiveInteger(replicas, `${what}.replicas`, 1000), timeoutMs: timerMs(timeoutMs, `${what}.timeoutMs`) }
}

/** What a durable writer needs of a connection: its topology and a second connection like it. */
export interface SiblingSource {
  readonly topology: ScriptConnection['topology']
  /** WAIT must answer within it: on Cluster a reply later than this is cut as a frozen node's. */
  readonly connectTimeoutMs: number
  sibling(): Promise<ScriptConnection>
}

/**
 * A ScriptConnection whose every write is followed by WAIT on the same (dedicated) connection. When
 * fewer replicas than asked acknowledge in time, the call fails with E_NOT_DURABLE: the write
 * happened on the master and is there, but a failover now could lose it.
 */
export class DurableWriter implements ScriptConnection {
  readonly topology: ScriptConnection['topology']
  readonly durable: DurableOptions
  readonly #source: SiblingSource
  #writer: Promise<ScriptConnection> | undefined

  constructor(source: SiblingSource, durable: DurableOptions) {
    if (durable.timeoutMs >= source.connectTimeoutMs)
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `durable.timeoutMs (${durable.timeoutMs} ms) must be below connectTimeoutMs (${source.connectTimeoutMs} ms): a longer WAIT would look like a frozen node`,
      )
    this.#source = source
    this.topology = source.topology
    this.durable = durable
  }

  async send<T = unknown>(args: string[], options: SendOptions = {}): Promise<T> {
    const writer = await this.#connection()
    const reply = await writer.send<T>(args, options)
    await this.#wait(writer, options, args[0] ?? 'command').catch((error: unknown) => {
      // The write happened: its caller may still need its reply (an expiry's directory touch).
      if (error instanceof RedkitError && error.details) error.details.reply = reply
      throw error
    })
    return reply
  }

  /** WAITs for what this writer wrote so far (use after a write made through it). */
  async #wait(writer: ScriptConnection, options: SendOptions, command: string): Promise<void> {
    const { replicas, timeoutMs } = this.durable
    const acked = Number(await writer.send(['WAIT', String(replicas), String(timeoutMs)], { key: options.key }))
    if (acked < replicas)
      throw new RedkitError(
        ErrorCodes.E_NOT_DURABLE,
        `${command} is on the master, but only ${acked} of ${replicas} replicas acknowledged it within ${timeoutMs} ms: a failover now could lose it`,
        { details: { acked, replicas, timeoutMs } },
      )
  }

  #connection(): Promise<ScriptConnection> {
    this.#writer ??= this.#source.sibling().catch((error: unknown) => {
      this.#writer = undefined
      throw error
    })
    return this.#writer
  }
}
