import { ErrorCodes, RedkitError } from '../core/errors.js'

/** Largest bitmap Redis holds in one string: 2^32 bits (512 MiB). */
export const MAX_BITS = 2 ** 32

import type { BloomSize } from './types.js'

/**
 * Optimal size for `expectedItems` at a false-positive rate: m = -n ln p / (ln 2)^2 bits and
 * k = (m / n) ln 2 hashes.
 * @throws RedkitError E_INVALID_ARGUMENT
 */
export function bloomSize(expectedItems: number, falsePositiveRate: number): BloomSize {
  if (!Number.isSafeInteger(expectedItems) || expectedItems < 1)
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `expectedItems must be a positive integer, got ${String(expectedItems)}`)
  if (typeof falsePositiveRate !== 'number' || !(falsePositiveRate > 0 && falsePositiveRate < 1))
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `falsePositiveRate must be between 0 and 1 (exclusive), got ${String(falsePositiveRate)}`,
    )
  const bits = Math.ceil((-expectedItems * Math.log(falsePositiveRate)) / Math.LN2 ** 2)
  if (bits > MAX_BITS)
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `a Bloom filter for ${expectedItems} items at ${falsePositiveRate} needs ${bits} bits; Redis strings hold at most 2^32`,
    )
  const hashes = Math.max(1, Math.min(32, Math.round((bits / expectedItems) * Math.LN2)))
  return { bits, hashes }
}

/** The false-positive rate of a filter of `bits` and `hashes` holding `items`: (1 - e^(-kn/m))^k. */
export function falsePositiveRateOf(size: BloomSize, items: number): number {
  return (1 - Math.exp((-size.hashes * items) / size.bits)) ** size.hashes
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
 * The `hashes` bit positions of an item (UTF-8), by double hashing (Kirsch–Mitzenmacher):
 * g_i = (h1 + i * h2) mod bits, with two seeded MurmurHash3 values; appended to `out`.
 */
export function bloomPositions(item: string, size: BloomSize, out: number[]): void {
  const need = item.length * 3
  if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2))
  const { written } = encoder.encodeInto(item, scratch)
  const h1 = murmur3(scratch, written, 0x9747b28c)
  // An odd h2 never collapses every position onto h1 when bits is a power of two.
  const h2 = murmur3(scratch, written, 0x5bd1e995) | 1
  for (let i = 0; i < size.hashes; i++) out.push((h1 + i * (h2 >>> 0)) % size.bits)
}
