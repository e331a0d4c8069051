import { backoffDelay } from '../core/backoff.js'
import { BlockingConnection } from '../core/blocking.js'
import type { MessagingContext } from './context.js'

export interface IdleWaiterHost {
  /** Free slots right now. */
  free(): number
  /** Something may be ready: a wake-up marker ('marker'), a due time ('timer'), or a safety look ('look'). */
  wake(reason: 'marker' | 'timer' | 'look'): void
  reportError(error: unknown): void
}

const ERROR_BACKOFF = { delayMs: 50, maxDelayMs: 2000, jitter: 0.3 }

/**
 * How an idle worker waits without polling: it blocks on the queue's wake-up list (BLPOP on a
 * dedicated connection, at most `idleBlockMs` per command) and arms a local timer for the next
 * time the queue said something becomes due (a delayed job, an expiring lease, the rate limit
 * window). Redis's own blocking timeouts are only as precise as its 100 ms cron; the timer is not.
 */
export class IdleWaiter {
  readonly #ctx: MessagingContext
  readonly #wakeKey: string
  readonly #idleBlockMs: number
  readonly #host: IdleWaiterHost
  readonly #blocking: BlockingConnection
  #idle = false
  #running = false
  #closed = false
  #timer: NodeJS.Timeout | undefined
  #waiters: Array<() => void> = []
  #errors = 0

  constructor(ctx: MessagingContext, wakeKey: string, idleBlockMs: number, host: IdleWaiterHost) {
    this.#ctx = ctx
    this.#wakeKey = wakeKey
    this.#idleBlockMs = idleBlockMs
    this.#host = host
    this.#blocking = new BlockingConnection(ctx.connection)
  }

  get idle(): boolean {
    return this.#idle
  }

  /**
   * Records whether the worker is idle and, if so, when (server clock) something becomes due
   * (-1: nothing known). Resolves true when the worker just became idle.
   */
  set(idle: boolean, wakeAt: number, serverNow: number): boolean {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const became = idle && !this.#idle
    this.#idle = idle
    if (!idle || this.#closed) return became
    for (const resolve of this.#waiters.splice(0)) resolve()
    if (!this.#running) void this.#loop()
    if (wakeAt >= 0) {
      this.#timer = setTimeout(
        () => {
          this.#timer = undefined
          this.#host.wake('timer')
        },
        Math.max(0, wakeAt - serverNow),
      )
      this.#timer.unref()
    }
    return became
  }

  async #loop(): Promise<void> {
    this.#running = true
    const blockSeconds = (this.#idleBlockMs / 1000).toFixed(3)
    let timeouts = 0
    while (!this.#closed) {
      if (!this.#idle) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve))
        continue
      }
      let marker: unknown
      try {
        marker = await this.#blocking.call(['BLPOP', this.#wakeKey, blockSeconds], this.#wakeKey, this.#idleBlockMs + 3000)
        this.#errors = 0
      } catch (error) {
        if (this.#closed) break
        this.#host.reportError(error)
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(++this.#errors, ERROR_BACKOFF)).unref())
        // A marker may have been lost with the connection: look.
        this.#host.wake('look')
        continue
      }
      if (this.#closed) break
      if (marker) {
        timeouts = 0
        if (this.#host.free() > 0) this.#host.wake('marker')
        else {
          // Taken while the timer path filled every slot: pass it on to another worker.
          this.#ctx.connection
            .send(['RPUSH', this.#wakeKey, '1'], { key: this.#wakeKey })
            .catch((error: unknown) => this.#host.reportError(error))
        }
      } else if (++timeouts % 12 === 0) {
        // Safety net against a marker lost with a cut connection: look once a minute or so.
        this.#host.wake('look')
      }
    }
    this.#running = false
  }

  /** Stops waiting: a pending BLPOP is cut, the timer cleared. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#blocking.close()
    for (const resolve of this.#waiters.splice(0)) resolve()
  }
}
