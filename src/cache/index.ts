export { Cache } from './cache.js'
export { CacheKeys } from './cache-keys.js'
export { jitterTtl } from './jitter.js'
export { LiveDataset, type LiveDatasetEvents, type LiveDatasetOptions, type LiveDatasetUpdate } from './live-dataset.js'
export { Lru } from './lru.js'
export type { NearFlushReason, NearOptions } from './near.js'
export type {
  CacheEvents,
  CacheOptions,
  CacheStats,
  CacheWriter,
  FallbackEvent,
  FallbackOptions,
  GetOrLoadOptions,
  HitEvent,
  InvalidateEvent,
  KeyEvent,
  LoadEvent,
  Loader,
  RefreshEvent,
  SetOptions,
  WriteBehindOptions,
  WriteInfo,
} from './types.js'
