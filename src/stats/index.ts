export { BloomFilter, type BloomOptions } from './bloom.js'
export { type BloomSize, bloomPositions, bloomSize, falsePositiveRateOf, murmur3 } from './bloom-math.js'
