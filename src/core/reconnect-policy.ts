import { backoffDelay } from './backoff.js'
import type { ReconnectingEvent } from './connection-options.js'
import { ErrorCodes, PERMISSION_DENIED, RedkitError, type SecretScrubber } from './errors.js'

/** Auth failures after the first connection retry no faster than this: a tight loop only floods logs and locks accounts. */
export const AUTH_RETRY_MIN_MS = 1000

/** Reconnect attempts a main-connection Cluster node client makes before it is given up. */
const NODE_RETRIES = 2

/** How the error of a given-up node client starts: the command it carried was never written. */
export const NODE_GAVE_UP = 'gave up reconnecting to a cluster node'

const REFUSED_CREDENTIALS = /WRONGPASS|NOAUTH|invalid username-password|NOPERM/i

export interface ReconnectPolicyHost {
  readonly scrubber: SecretScrubber
  readonly connectTimeoutMs: number
  readonly maxReconnectDelayMs: number
  /** Whether the connection was ever ready: before that, failures end the first connect instead of retrying. */
  everReady(): boolean
  closed(): boolean
  reconnecting(event: ReconnectingEvent): void
  /** Emits when someone listens. */
  error(error: RedkitError): void
}

/**
 * The reconnect policy shared by every connection redkit opens: exponential backoff with jitter,
 * bounded. Refused credentials end the first connection (createRedkit fails with E_AUTH: a typo
 * should not hang). Once connected, they do not end the instance: a rotated password or a changed
 * ACL is retried with a slower backoff until it works again, and reported once per outage.
 */
export class ReconnectPolicy {
  readonly #host: ReconnectPolicyHost
  #lastError: string | undefined
  #authFailing = false

  constructor(host: ReconnectPolicyHost) {
    this.#host = host
  }

  /** The last connect failure, scrubbed: what a first connect that timed out names as its cause. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  /** node-redis's `socket.reconnectStrategy`. */
  readonly strategy = (retries: number, cause: Error): number | Error | false => {
    const host = this.#host
    if (host.closed()) return false
    const clean = host.scrubber.sanitize(cause)
    this.#lastError = clean.message
    const auth = REFUSED_CREDENTIALS.test(clean.message)
    const everReady = host.everReady()
    if (auth && !everReady) return new RedkitError(ErrorCodes.E_AUTH, `Redis refused the credentials: ${clean.message}`, { cause: clean })
    if (!everReady && /DB index is out of range|invalid DB index/i.test(clean.message))
      return new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `the url's database does not exist on this server: ${clean.message}`, {
        cause: clean,
      })
    if (!everReady && retries > 0 && retries * 50 > host.connectTimeoutMs)
      return new RedkitError(ErrorCodes.E_CONNECTION, clean.message, { cause: clean })
    let delayMs = backoffDelay(retries + 1, { delayMs: 50, maxDelayMs: host.maxReconnectDelayMs, jitter: 0.3 })
    if (auth) {
      delayMs = Math.max(delayMs, AUTH_RETRY_MIN_MS)
      this.reportAuthOnce(clean.message)
    }
    if (everReady) host.reconnecting({ attempt: retries + 1, delayMs, error: clean })
    return delayMs
  }

  /**
   * The strategy of a Cluster node's client in the main connection: a node that refuses twice in a
   * row is given up, and its client closes. Nothing waits on it meanwhile: those clients never queue
   * commands, and the Connection forgets a closed node client, refreshes the slot map and resends, so
   * the next attempt goes to whichever node serves the slot then (the promoted replica after a
   * `kill -9`) through a new client. Before the first connection, `strategy` decides as for any client.
   */
  readonly nodeStrategy = (retries: number, cause: Error): number | Error | false => {
    const delayMs = this.strategy(retries, cause)
    if (typeof delayMs !== 'number' || !this.#host.everReady() || retries < NODE_RETRIES) return delayMs
    return new RedkitError(ErrorCodes.E_CONNECTION, `${NODE_GAVE_UP}: ${this.#host.scrubber.sanitize(cause).message}`)
  }

  /** The connection is ready again: the next refusal is a new outage. */
  recovered(): void {
    this.#authFailing = false
  }

  reportAuthOnce(message: string): void {
    if (this.#authFailing) return
    this.#authFailing = true
    this.#host.error(
      new RedkitError(
        PERMISSION_DENIED.test(message) ? ErrorCodes.E_PERMISSION : ErrorCodes.E_AUTH,
        `Redis refused the credentials on reconnect: ${message}; retrying every ${AUTH_RETRY_MIN_MS} ms or more (supply new ones with the credentials option)`,
      ),
    )
  }
}
