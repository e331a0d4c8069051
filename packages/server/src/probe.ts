import { ErrorCodes, type Redkit, RedkitError } from 'redkit'

/** Outcome of one bounded PING. `error` is a RedkitError scrubbed of secrets, safe to show. */
export type ProbeResult = { ok: true; latencyMs: number } | { ok: false; error: RedkitError }

export interface RedisProbeOptions {
  /**
   * Upper bound of one check: a frozen or unreachable Redis yields `E_TIMEOUT` after this long,
   * never a hang. @defaultValue 1000
   */
  timeoutMs?: number
}

/**
 * Bounded Redis liveness check shared by `/health` and `/metrics`. Concurrent callers share one
 * in-flight PING, so a burst of health checks or scrapes costs Redis one round trip.
 */
export class RedisProbe {
  readonly rk: Redkit
  readonly timeoutMs: number
  readonly #listeners = new Set<(result: ProbeResult) => void>()
  #inflight: Promise<ProbeResult> | undefined

  constructor(rk: Redkit, options: RedisProbeOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 1000
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `probe timeoutMs must be a positive number, got ${timeoutMs}`)
    }
    this.rk = rk
    this.timeoutMs = timeoutMs
  }

  /** Calls `listener` with every result (metrics record them here); returns an unsubscribe function. */
  onResult(listener: (result: ProbeResult) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  check(): Promise<ProbeResult> {
    this.#inflight ??= this.#run().finally(() => {
      this.#inflight = undefined
    })
    return this.#inflight
  }

  async #run(): Promise<ProbeResult> {
    const result = await this.#ping()
    for (const listener of this.#listeners) {
      try {
        listener(result)
      } catch {
        // A metrics listener must never turn a health answer into a 500.
      }
    }
    return result
  }

  async #ping(): Promise<ProbeResult> {
    if (this.rk.closed) return { ok: false, error: new RedkitError(ErrorCodes.E_CLOSED, 'redkit is closed') }
    // While node-redis is reconnecting a command would wait in its offline queue: answer at once instead.
    if (!this.rk.connection.isReady) {
      return { ok: false, error: new RedkitError(ErrorCodes.E_CONNECTION, 'Redis connection is down (reconnecting)') }
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RedkitError(ErrorCodes.E_TIMEOUT, `Redis did not answer PING within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      )
    })
    const ping = this.rk.ping()
    // The PING may settle after the timeout won the race; nobody awaits it then.
    ping.catch(() => {})
    try {
      return { ok: true, latencyMs: await Promise.race([ping, timeout]) }
    } catch (error) {
      return { ok: false, error: this.#publicError(error) }
    } finally {
      clearTimeout(timer)
    }
  }

  #publicError(error: unknown): RedkitError {
    const scrubber = this.rk.connection.scrubber
    if (error instanceof RedkitError) return new RedkitError(error.code, scrubber.scrub(error.message))
    return new RedkitError(ErrorCodes.E_REDIS, scrubber.scrub(error instanceof Error ? error.message : String(error)))
  }
}
