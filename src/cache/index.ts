export { Cache } from './cache.js'
export type { DeadLetter } from './dead-letters.js'
export { LiveDataset, type LiveDatasetEvents, type LiveDatasetOptions, type LiveDatasetUpdate } from './live-dataset.js'
export type { NearFlushReason, NearOptions } from './near.js'
export type {
  CacheEvents,
  CacheOptions,
  CacheSetOptions,
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
  LoadInfo,
  RefreshEvent,
  WriteBehindOptions,
  WriteInfo,
} from './types.js'
