import { withTimeout } from './async.js'
import type { AnyClient, AnyCluster, NodeRedisClient, Topology } from './connection-options.js'

export interface HealthCheckHost {
  readonly topology: Topology
  main(): NodeRedisClient
  closed(): boolean
  /** Standalone: put a fresh client in place of the stalled main one (and destroy the stalled one). */
  replaceMain(timeoutMs: number): void
  /** Cluster: a master's client was dropped for not answering. */
  stalled(timeoutMs: number, node: string): void
}

/**
 * A server that stops answering while the socket stays open (a frozen process, a half-open
 * connection) raises no socket error, and without per-command timers the commands sent to it
 * would wait forever. One PING per interval, with its own timeout, detects it; the stalled client
 * is then destroyed (its pending commands fail with E_CONNECTION) and replaced by a fresh one.
 * Standalone: the main client. Cluster: each master's client (node-redis opens a new one on the
 * next command to that master). Not Sentinel, whose clients node-redis keeps to itself.
 */
export class HealthCheck {
  readonly #host: HealthCheckHost
  readonly #timeoutMs: number
  #timer: NodeJS.Timeout | undefined
  #checking = false

  constructor(host: HealthCheckHost, timeoutMs: number) {
    this.#host = host
    this.#timeoutMs = timeoutMs
  }

  start(intervalMs: number): void {
    if (this.#host.topology === 'sentinel' || intervalMs <= 0) return
    this.#timer = setInterval(() => void this.check(), intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  async check(): Promise<void> {
    const host = this.#host
    if (this.#checking || host.closed()) return
    this.#checking = true
    const timeoutMs = this.#timeoutMs
    try {
      if (host.topology === 'standalone') {
        const client = host.main() as AnyClient
        if (client.isReady && (await stalls(client, timeoutMs)) && !host.closed() && client === host.main()) host.replaceMain(timeoutMs)
        return
      }
      await Promise.all(
        (host.main() as AnyCluster).masters.map(async (master) => {
          const client = master.client as AnyClient | undefined
          if (!client?.isReady || !(await stalls(client, timeoutMs)) || host.closed() || master.client !== client) return
          // node-redis keeps this client for the master until told otherwise: forget it, so the next
          // command to this master opens a new one, then fail what the stalled one holds.
          const node = master as { client?: unknown }
          node.client = undefined
          host.stalled(timeoutMs, `${master.host}:${master.port}`)
          client.destroy()
        }),
      )
    } finally {
      this.#checking = false
    }
  }
}

/** Whether a PING goes unanswered for `timeoutMs`, by our own timer (node-redis's only covers the write). */
async function stalls(client: AnyClient, timeoutMs: number): Promise<boolean> {
  const answered = client.sendCommand(['PING']).then(
    () => false,
    () => false,
  )
  return withTimeout(answered, timeoutMs, () => true)
}
