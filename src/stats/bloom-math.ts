import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'

/** Largest bitmap Redis holds in one string: 2^32 bits (512 MiB). */
export const MAX_BITS = 2 ** 32

import type { BloomSize } from './types.js'

/**
 * False-positive rate of a filter of `bits` and `hashes` holding `items`, when each item sets
 * `hashes` distinct bits (as `bloomPositions` gives them) and a probe tests `hashes` distinct bits:
 * at most (1 - (1 - k/m)^n)^k (which bits are set are negatively associated, so the product of
 * their probabilities bounds the chance that all k are). For large filters it is the textbook
 * (1 - e^(-kn/m))^k; for small ones it is the honest figure (a filter of 10 bits is not one of a
 * million).
 */
export function falsePositiveRateOf(size: Pick<BloomSize, 'bits' | 'hashes'>, items: number): number {
  const { bits, hashes } = size
  if (items <= 0) return 0
  if (hashes >= bits) return 1
  const unset = Math.exp(items * Math.log1p(-hashes / bits))
  return (1 - unset) ** hashes
}

/**
 * The smallest size for `expectedItems` at a false-positive rate: it starts from the textbook
 * m = -n ln p / (ln 2)^2 bits and k = (m / n) ln 2 hashes, then grows m until the rate of
 * `falsePositiveRateOf` (what the filter measures, small filters included) is at most `falsePositiveRate`.
 * @throws RedkitError E_INVALID_ARGUMENT
 */
export function bloomSize(expectedItems: number, falsePositiveRate: number): BloomSize {
  if (!Number.isSafeInteger(expectedItems) || expectedItems < 1)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `expectedItems must be a positive integer, got ${describeValue(expectedItems)}`)
  if (typeof falsePositiveRate !== 'number' || !(falsePositiveRate > 0 && falsePositiveRate < 1))
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `falsePositiveRate must be between 0 and 1 (exclusive), got ${describeValue(falsePositiveRate)}`,
    )
  const tooLarge = (bits: number) =>
    new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `a Bloom filter for ${expectedItems} items at ${falsePositiveRate} needs ${bits} bits; Redis strings hold at most 2^32`,
    )
  let bits = Math.ceil((-expectedItems * Math.log(falsePositiveRate)) / Math.LN2 ** 2)
  if (bits > MAX_BITS) throw tooLarge(bits)
  for (let guard = 0; guard < 100_000; guard++) {
    const best = bestHashes(bits, expectedItems)
    if (falsePositiveRateOf({ bits, hashes: best }, expectedItems) <= falsePositiveRate) return { bits, hashes: best }
    bits += Math.max(1, Math.ceil(bits / 1000))
    if (bits > MAX_BITS) throw tooLarge(bits)
  }
  throw tooLarge(bits)
}

/** The hash count (1 to 32, at most bits - 1) with the lowest false-positive rate at this size. */
function bestHashes(bits: number, items: number): number {
  const around = Math.round((bits / items) * Math.LN2)
  let best = 1
  let rate = Number.POSITIVE_INFINITY
  for (let k = Math.max(1, around - 2); k <= Math.min(32, around + 2, Math.max(1, bits - 1)); k++) {
    const r = falsePositiveRateOf({ bits, hashes: k }, items)
    if (r < rate) {
      rate = r
      best = k
    }
  }
  return best
}

const encoder = new TextEncoder()
let scratch = new Uint8Array(256)

/** MurmurHash3 x86 32-bit of a byte range. */
export function murmur3(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed >>> 0
  const blocks = length & ~3
  for (let i = 0; i < blocks; i += 4) {
    let k = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = length & 3
  if (tail > 0) {
    let k = 0
    if (tail === 3) k ^= (bytes[blocks + 2] as number) << 16
    if (tail >= 2) k ^= (bytes[blocks + 1] as number) << 8
    k ^= bytes[blocks] as number
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * How a filter turns an item into bit positions; recorded with its size, so a filter keeps the
 * scheme it was created with.
 * - 1: plain double hashing g_i = (h1 + i * h2) mod bits. It degenerates when h2 mod bits is 0 or
 *   bits / 2 (every position on one or two bits: measured up to 3.7x the configured rate on small
 *   filters); kept only for filters created before scheme 2.
 * - 2: enhanced double hashing (Dillinger and Manolios: x += y, y += i, both mod bits), and the k
 *   positions of an item are made distinct (a repeat moves to the next free bit), so every item
 *   tests exactly k bits.
 */
export type BloomScheme = 1 | 2

/** The scheme new filters are created with. */
export const BLOOM_SCHEME: BloomScheme = 2

/** A filter's layout: its size and its position scheme. */
export interface BloomLayout extends BloomSize {
  scheme: BloomScheme
}

/** The `hashes` bit positions of an item (UTF-8) in a filter of this layout, appended to `out`. */
export function bloomPositions(item: string, layout: BloomSize & { scheme?: BloomScheme }, out: number[]): void {
  const need = item.length * 3
  if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2))
  const { written } = encoder.encodeInto(item, scratch)
  const h1 = murmur3(scratch, written, 0x9747b28c)
  const h2 = murmur3(scratch, written, 0x5bd1e995)
  const { bits, hashes } = layout
  if ((layout.scheme ?? BLOOM_SCHEME) === 1) {
    const step = (h2 | 1) >>> 0
    for (let i = 0; i < hashes; i++) out.push((h1 + i * step) % bits)
    return
  }
  const first = out.length
  let x = h1 % bits
  let y = h2 % bits
  for (let i = 0; i < hashes; i++) {
    let p = x
    // At most k - 1 taken bits to skip, and k < bits (bloomSize never makes k >= bits).
    while (taken(out, first, p)) p = p + 1 === bits ? 0 : p + 1
    out.push(p)
    x = (x + y) % bits
    y = (y + i + 1) % bits
  }
}

function taken(out: readonly number[], first: number, p: number): boolean {
  for (let j = first; j < out.length; j++) if (out[j] === p) return true
  return false
}
