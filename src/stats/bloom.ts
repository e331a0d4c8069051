import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'
import { type BloomSize, bloomPositions, bloomSize, falsePositiveRateOf } from './bloom-math.js'

export interface BloomOptions {
  /** Items the filter is sized for; beyond it the false-positive rate climbs. */
  expectedItems: number
  /** Wanted probability that `mightContain` says yes for an item never added (0 < p < 1). */
  falsePositiveRate: number
}

const scripts = {
  init: defineScript<[params: string], [bits: number, hashes: number], [number, number]>('bloom-init'),
  add: defineScript<[bits: string], number[], number[]>('bloom-add'),
  check: defineScript<[bits: string], number[], number[]>('bloom-check'),
}

/** Items per script call in the bulk variants (k positions each). */
const CHUNK = 1000

/**
 * A Bloom filter in a Redis bitmap: "surely not added" or "maybe added", in constant memory.
 * Bit positions are computed here (MurmurHash3, double hashing) and set or tested by one Lua call,
 * so `add` and `mightContain` are one round trip each, and the bulk variants one per 1,000 items.
 * The size is fixed by the first user of the name (recorded next to the bitmap) and adopted by
 * every later one. No RedisBloom module needed; on Cluster the filter lives in one slot.
 */
export class BloomFilter {
  readonly name: string
  /** The size these options ask for (the one in force is `size()`). */
  readonly requested: BloomSize
  readonly #rk: RedkitContext
  readonly #bits: string
  readonly #params: string
  #size: Promise<BloomSize> | undefined

  constructor(rk: RedkitContext, name: string, options: BloomOptions) {
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'bloom needs { expectedItems, falsePositiveRate }')
    this.name = validateObjectName(name, 'bloom filter name')
    this.requested = bloomSize(options.expectedItems, options.falsePositiveRate)
    this.#rk = rk
    const own = rk.keys.object(name)
    this.#bits = own('bloom')
    this.#params = own('bloom-params')
  }

  /** The size in force (the first user's). */
  size(): Promise<BloomSize> {
    this.#size ??= scripts.init.run(this.#rk.connection, [this.#params], [this.requested.bits, this.requested.hashes]).then(
      ([bits, hashes]) => ({ bits, hashes }),
      (error: unknown) => {
        this.#size = undefined
        throw error
      },
    )
    return this.#size
  }

  /** Adds an item. @returns true when it was surely not there before */
  async add(item: string): Promise<boolean> {
    const [added] = await this.addMany([item])
    return added === true
  }

  /** Adds items. @returns per item: true when it was surely not there before */
  addMany(items: readonly string[]): Promise<boolean[]> {
    return this.#run(scripts.add, items)
  }

  /** False when the item was surely never added; true when it may have been. */
  async mightContain(item: string): Promise<boolean> {
    const [found] = await this.mightContainMany([item])
    return found === true
  }

  mightContainMany(items: readonly string[]): Promise<boolean[]> {
    return this.#run(scripts.check, items)
  }

  /** The expected false-positive rate once `items` have been added. */
  async falsePositiveRate(items: number): Promise<number> {
    return falsePositiveRateOf(await this.size(), items)
  }

  /** Empties the filter (its size stays recorded). */
  async clear(): Promise<void> {
    await this.#rk.connection.send(['DEL', this.#bits], { key: this.#bits })
  }

  /** Removes the filter and its recorded size. */
  async destroy(): Promise<void> {
    await this.#rk.connection.send(['DEL', this.#bits, this.#params], { key: this.#bits })
    this.#size = undefined
  }

  async #run(script: typeof scripts.add, items: readonly string[]): Promise<boolean[]> {
    if (!Array.isArray(items)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'items must be an array of strings')
    for (const item of items) {
      if (typeof item !== 'string') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `bloom items must be strings, got ${typeof item}`)
    }
    if (items.length === 0) return []
    const size = await this.size()
    const out: boolean[] = []
    const calls: Array<Promise<number[]>> = []
    for (let start = 0; start < items.length; start += CHUNK) {
      const args: number[] = [size.hashes]
      for (const item of items.slice(start, start + CHUNK)) bloomPositions(item, size, args)
      calls.push(script.run(this.#rk.connection, [this.#bits], args))
    }
    for (const reply of await Promise.all(calls)) for (const flag of reply) out.push(flag === 1)
    return out
  }
}
