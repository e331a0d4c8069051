import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, isRedkitError, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import { isWellFormed } from '../core/validate.js'
import { hasServerBloom } from './bloom-backend.js'
import { BLOOM_SCHEME, type BloomLayout, bloomPositions, bloomSize, falsePositiveRateOf, MAX_BITS } from './bloom-math.js'
import { member } from './checks.js'
import { type BloomKeys, bloomKeys } from './keys.js'
import { scripts } from './scripts.js'
import type { BloomOptions, BloomSize } from './types.js'

/** Items per call in the bulk variants (k positions each in the Lua backend). */
const CHUNK = 1000
/** Default largest recorded size adopted: 2^27 bits (16 MiB), or what these options ask for when larger. */
const DEFAULT_MAX_BITS = 2 ** 27
/** Longest item, in UTF-16 code units (ids, keys, e-mail addresses; not documents). */
export const MAX_BLOOM_ITEM_LENGTH = 65_536

type Backend = 'server' | 'lua'

/**
 * A Bloom filter: "surely not added" or "maybe added", in constant memory, sized from
 * `expectedItems` and `falsePositiveRate`. By default (and with `backend: 'lua'`) a bitmap whose
 * positions are computed here (MurmurHash3, enhanced double hashing, k distinct bits per item) and set or tested
 * by one script call. With `backend: 'server'` or `'auto'` (the server's BF.* commands, detected
 * with COMMAND INFO; a user not allowed COMMAND INFO gets the Lua backend) it is a server-side
 * filter, created by the first add (BF.INSERT with the capacity and rate): faster, but tested only
 * where a Bloom module is loaded (not in CI; docs/stats.md). Either way `add` and `mightContain`
 * are one round trip each and the bulk variants one per 1,000 items. The Lua filter's layout is fixed by its first user and adopted by
 * every later one, within `maxBits`.
 */
export class BloomFilter {
  readonly name: string
  /** The size these options ask for (the one in force is `size()`). */
  readonly requested: BloomSize
  readonly expectedItems: number
  readonly falsePositiveRate: number
  readonly #rk: RedkitContext
  readonly #keys: BloomKeys
  readonly #wanted: 'default' | 'auto' | Backend
  readonly #maxBits: number
  #size: Promise<BloomLayout> | undefined
  #backend: Promise<Backend> | undefined

  constructor(rk: RedkitContext, name: string, options: BloomOptions) {
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'bloom needs { expectedItems, falsePositiveRate }')
    this.name = member(validateObjectName(name, 'bloom filter name'), 'bloom filter name')
    this.requested = bloomSize(options.expectedItems, options.falsePositiveRate)
    this.expectedItems = options.expectedItems
    this.falsePositiveRate = options.falsePositiveRate
    const backend = options.backend
    if (backend !== undefined && backend !== 'auto' && backend !== 'server' && backend !== 'lua')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `backend must be 'auto', 'server' or 'lua'`)
    this.#wanted = backend ?? 'default'
    const maxBits = options.maxBits ?? Math.max(DEFAULT_MAX_BITS, this.requested.bits)
    if (!Number.isSafeInteger(maxBits) || maxBits < this.requested.bits || maxBits > MAX_BITS)
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `maxBits must be an integer from the requested ${this.requested.bits} bits to 2^32`,
      )
    this.#maxBits = maxBits
    this.#rk = rk
    this.#keys = bloomKeys(rk.keys, this.name)
  }

  /** Which backend this filter uses: `server` (BF.*) or `lua` (bitmap). */
  backend(): Promise<Backend> {
    this.#backend ??= this.#chooseBackend().catch((error: unknown) => {
      this.#backend = undefined
      throw error
    })
    return this.#backend
  }

  /** The size in force (the first user's) of the Lua filter. @throws RedkitError E_DECODE when the recorded size is not one redkit wrote or exceeds maxBits */
  async size(): Promise<BloomSize> {
    const { bits, hashes } = await this.#layout()
    return { bits, hashes }
  }

  #layout(): Promise<BloomLayout> {
    this.#size ??= scripts.bloomInit
      .call(this.#rk.connection, this.#keys, [this.requested.bits, this.requested.hashes, this.#maxBits, BLOOM_SCHEME])
      .then(
        ([bits, hashes, scheme]) => ({ bits, hashes, scheme: scheme === 1 ? 1 : 2 }),
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
    return this.#run('add', items)
  }

  /** False when the item was surely never added; true when it may have been. */
  async mightContain(item: string): Promise<boolean> {
    const [found] = await this.mightContainMany([item])
    return found === true
  }

  mightContainMany(items: readonly string[]): Promise<boolean[]> {
    return this.#run('check', items)
  }

  /** The expected false-positive rate of the Lua filter once `items` have been added. */
  async expectedFalsePositiveRate(items: number): Promise<number> {
    return falsePositiveRateOf(await this.#layout(), items)
  }

  /**
   * Whether the filter holds anything at all. False after eviction, FLUSH or clear(): every item
   * then reads as absent, so a guard built on the filter must not trust it (the cache fails open).
   */
  async exists(): Promise<boolean> {
    return (await this.#rk.connection.send<number>(['EXISTS', this.#keys.bits, this.#keys.server], { key: this.#keys.bits })) > 0
  }

  /** Empties the filter (a Lua filter's size stays recorded). */
  async clear(): Promise<void> {
    await this.#rk.connection.send(['DEL', this.#keys.bits, this.#keys.server], { key: this.#keys.bits })
  }

  /** Removes the filter and its recorded size. */
  async destroy(): Promise<void> {
    await this.#rk.connection.send(['DEL', this.#keys.bits, this.#keys.params, this.#keys.server], { key: this.#keys.bits })
    this.#size = undefined
    this.#backend = undefined
  }

  async #chooseBackend(): Promise<Backend> {
    if (this.#wanted === 'lua') return 'lua'
    if (this.#wanted === 'default') {
      // The Lua bitmap (the backend CI tests), unless this name already holds a BF.* filter
      // ('auto' was the default before 2026-12-01): its items must stay readable.
      const server = await this.#rk.connection.send<number>(['EXISTS', this.#keys.server], { key: this.#keys.server })
      return server === 1 ? 'server' : 'lua'
    }
    const available = await hasServerBloom(this.#rk.connection)
    if (this.#wanted === 'server') {
      if (!available)
        throw new RedkitError(ErrorCodes.E_SERVER_CONFIG, 'backend: server needs the BF.* commands (RedisBloom, Redis 8 or valkey-bloom)')
      return 'server'
    }
    // A filter that already lives in a bitmap stays there: switching would forget its items.
    const lua = await this.#rk.connection.send<number>(['EXISTS', this.#keys.params], { key: this.#keys.params })
    return available && lua === 0 ? 'server' : 'lua'
  }

  async #run(op: 'add' | 'check', items: readonly string[]): Promise<boolean[]> {
    if (!Array.isArray(items)) throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'items must be an array of strings')
    for (const item of items) checkItem(item)
    if (items.length === 0) return []
    if ((await this.backend()) === 'server') return this.#runServer(op, items)
    try {
      return await this.#runLua(op, items)
    } catch (error) {
      // Another process destroyed and recreated the filter with another size: adopt it, once.
      if (!isRedkitError(error, ErrorCodes.E_DECODE) || !error.message.includes('bloom-size-changed')) throw error
      this.#size = undefined
      return this.#runLua(op, items)
    }
  }

  async #runLua(op: 'add' | 'check', items: readonly string[]): Promise<boolean[]> {
    const layout = await this.#layout()
    const script = op === 'add' ? scripts.bloomAdd : scripts.bloomCheck
    const calls: Array<Promise<number[]>> = []
    for (let start = 0; start < items.length; start += CHUNK) {
      const args: number[] = [layout.bits, layout.hashes, layout.scheme]
      for (const item of items.slice(start, start + CHUNK)) bloomPositions(item, layout, args)
      calls.push(script.call(this.#rk.connection, this.#keys, args))
    }
    return (await Promise.all(calls)).flat().map((flag) => flag === 1)
  }

  async #runServer(op: 'add' | 'check', items: readonly string[]): Promise<boolean[]> {
    const key = this.#keys.server
    const { connection } = this.#rk
    // BF.INSERT creates the filter with this capacity and rate when it is missing (and ignores
    // them when it exists): one round trip, no separate BF.RESERVE per add.
    const head =
      op === 'add'
        ? ['BF.INSERT', key, 'CAPACITY', String(this.expectedItems), 'ERROR', String(this.falsePositiveRate), 'ITEMS']
        : ['BF.MEXISTS', key]
    const calls: Array<Promise<number[]>> = []
    for (let start = 0; start < items.length; start += CHUNK)
      calls.push(connection.send<number[]>([...head, ...items.slice(start, start + CHUNK)], { key }))
    return (await Promise.all(calls)).flat().map((flag) => Number(flag) === 1)
  }
}

/**
 * A Bloom item: a non-empty, well-formed string of at most 65,536 code units. Lone surrogates are
 * refused because UTF-8 encodes every one of them as U+FFFD, so '\uD800' and '\uDBFF' would be
 * one item (a certain false positive, whatever the rate).
 */
function checkItem(item: unknown): void {
  if (typeof item !== 'string') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `bloom items must be strings, got ${typeof item}`)
  if (item.length === 0) throw new RedkitError(ErrorCodes.E_INVALID_KEY, 'bloom items must not be empty')
  if (item.length > MAX_BLOOM_ITEM_LENGTH)
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `a bloom item is ${item.length} characters long; the limit is ${MAX_BLOOM_ITEM_LENGTH}`)
  if (!isWellFormed(item))
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, 'bloom items must be well-formed Unicode (a lone surrogate would collide with others)')
}
