/** Most items in one script call, by default. */
const MAX_BATCH = 200
/** Event-loop turns between a split tick's two halves (tens of µs: less than Redis takes to run the first). */
const LATER_TURNS = 4

export interface TickBatcherOptions {
  /** Most items in one call. @defaultValue 200 */
  maxBatch?: number
  /**
   * A tick's batch of at least this many items, while no call of its group is in flight, goes out
   * as two calls, so that Redis runs one while this process handles the other's reply: client and
   * server then work at the same time instead of taking turns. @defaultValue Infinity (never split)
   */
  splitFrom?: number
}

interface Pending<Item, Result> {
  item: Item
  resolve(result: Result): void
  reject(error: unknown): void
}

/**
 * Groups the calls made in the same tick into one script call per group (a Cluster slot, a
 * board): each caller still waits for one round trip, but the server dispatches a script once per
 * batch instead of once per call, and the client encodes one command. `send` answers one result
 * per item, or an Error for an item it refused alone. If a whole batch fails (one key holding data
 * redkit did not write), its items are sent again one by one, so only the bad item's caller sees
 * the error; `send` must therefore check everything before its first write.
 */
export class TickBatcher<Group, Item, Result> {
  readonly #queues = new Map<Group, Array<Pending<Item, Result>>>()
  readonly #send: (group: Group, items: readonly Item[]) => Promise<ReadonlyArray<Result | Error>>
  readonly #maxBatch: number
  readonly #splitFrom: number
  readonly #inFlight = new Map<Group, number>()
  /** Batches held behind a split tick's second half until it goes, so calls go out in call order. */
  readonly #held = new Map<Group, Array<ReadonlyArray<Pending<Item, Result>>>>()

  constructor(send: (group: Group, items: readonly Item[]) => Promise<ReadonlyArray<Result | Error>>, options: TickBatcherOptions = {}) {
    this.#send = send
    this.#maxBatch = options.maxBatch ?? MAX_BATCH
    this.#splitFrom = options.splitFrom ?? Number.POSITIVE_INFINITY
  }

  run(group: Group, item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let queue = this.#queues.get(group)
      if (!queue) {
        queue = []
        this.#queues.set(group, queue)
        // A microtask runs after the callers already resumed in this tick made their calls.
        queueMicrotask(() => this.#flush(group))
      }
      queue.push({ item, resolve, reject })
      if (queue.length >= this.#maxBatch) this.#flush(group)
    })
  }

  #flush(group: Group): void {
    const batch = this.#queues.get(group)
    if (!batch) return
    this.#queues.delete(group)
    const held = this.#held.get(group)
    if (held) return void held.push(batch)
    // Only when nothing is in flight: halving every tick would shrink the batches to single items,
    // while two halves that come back apart stay two calls of their own.
    if (batch.length >= this.#splitFrom && !this.#inFlight.has(group)) {
      const half = Math.ceil(batch.length / 2)
      this.#start(group, batch.slice(0, half))
      this.#later(group, batch.slice(half))
    } else this.#start(group, batch)
  }

  /**
   * Starts the second half a few event-loop turns after the first; a tick flushed meanwhile waits
   * behind it (and is not split: the first half is in flight).
   * node-redis writes what was sent in one turn with one write, and Redis answers everything it
   * read in one go only after running all of it: two halves sent together come back together, and
   * their callers would form one batch again (measured: every pair sent and answered in the same
   * turn). Apart, Redis answers the first before it reads the second, and the halves stay apart.
   */
  #later(group: Group, batch: ReadonlyArray<Pending<Item, Result>>): void {
    this.#held.set(group, [batch])
    let turns = LATER_TURNS
    const go = () => {
      if (--turns > 0) return void setImmediate(go)
      const held = this.#held.get(group) ?? []
      this.#held.delete(group)
      for (const next of held) this.#start(group, next)
    }
    setImmediate(go)
  }

  #start(group: Group, batch: ReadonlyArray<Pending<Item, Result>>): void {
    this.#deliver(group, batch).catch((error: unknown) => {
      if (batch.length === 1) return batch[0]?.reject(error)
      for (const pending of batch) this.#deliver(group, [pending]).catch(pending.reject)
    })
  }

  async #deliver(group: Group, batch: ReadonlyArray<Pending<Item, Result>>): Promise<void> {
    this.#inFlight.set(group, (this.#inFlight.get(group) ?? 0) + 1)
    let results: ReadonlyArray<Result | Error>
    try {
      results = await this.#send(
        group,
        batch.map((p) => p.item),
      )
    } finally {
      // Before the callers resume: the batch they make next sees this call settled.
      const left = (this.#inFlight.get(group) ?? 1) - 1
      if (left > 0) this.#inFlight.set(group, left)
      else this.#inFlight.delete(group)
    }
    if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} got ${results.length} results`)
    for (let i = 0; i < batch.length; i++) {
      const result = results[i] as Result | Error
      const pending = batch[i] as Pending<Item, Result>
      if (result instanceof Error) pending.reject(result)
      else pending.resolve(result)
    }
  }
}
