import type { Connection } from '../../core/connection.js'
import { ErrorCodes, RedkitError } from '../../core/errors.js'
import { hashSlot } from '../../core/keys.js'
import type { Script } from '../../core/scripts.js'
import { TickBatcher } from '../tick-batcher.js'

/** One decision's reply: allowed, remaining, resetMs, retryAfterMs, retryOneMs, server time. */
export type Decision = [allowed: number, remaining: number, resetMs: number, retryAfterMs: number, retryOneMs: number, now: number]

/**
 * Groups the decisions asked for in the same tick into one script call per Cluster slot: each
 * caller still waits for one round trip, but the server reads its clock and dispatches a script
 * once per batch instead of once per decision, which is what bounds throughput under load
 * (measured: 10.8 µs of server time for a lone fixed-window decision, 4.3 µs in batches of 20).
 * If a batch fails (one key holding data redkit did not write), its decisions are retried one by
 * one, so only the bad key's caller sees the error. Not split over two calls in flight
 * (TickBatcher `splitFrom`): measured 0.7-0.94x of one call per tick at load 5-15 (docs/stats.md).
 */
export class DecisionBatcher {
  readonly #connection: Connection
  readonly #script: Script<readonly string[], readonly number[], number[]>
  readonly #head: readonly number[]
  readonly #batcher = new TickBatcher<number, { key: string; cost: number }, Decision>((_slot, batch) => this.#send(batch))

  constructor(connection: Connection, script: Script<readonly string[], readonly number[], number[]>, head: readonly number[]) {
    this.#connection = connection
    this.#script = script
    this.#head = head
  }

  decide(key: string, cost: number): Promise<Decision> {
    return this.#batcher.run(this.#connection.topology === 'cluster' ? hashSlot(key) : 0, { key, cost })
  }

  async #send(batch: ReadonlyArray<{ key: string; cost: number }>): Promise<Decision[]> {
    const reply = await this.#script.run(
      this.#connection,
      batch.map((p) => p.key),
      [...this.#head, ...batch.map((p) => p.cost)],
    )
    if (!Array.isArray(reply) || reply.length !== batch.length * 5 + 1)
      throw new RedkitError(
        ErrorCodes.E_SCRIPT,
        `rate limiter script answered ${String(reply?.length)} values for ${batch.length} decisions`,
      )
    const now = reply[reply.length - 1] as number
    const out: Decision[] = []
    for (let i = 0; i < batch.length; i++) {
      const at = i * 5
      out.push([
        reply[at] as number,
        reply[at + 1] as number,
        reply[at + 2] as number,
        reply[at + 3] as number,
        reply[at + 4] as number,
        now,
      ])
    }
    if (reply.length !== batch.length * 5 + 1)
      throw new Error(`rate limiter script answered ${reply.length} values for ${batch.length} decisions`)
    return out
  }
}
