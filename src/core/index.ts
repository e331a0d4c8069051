export { type BackoffOptions, backoffDelay, sleep, validateCount, validateMs } from './backoff.js'
export { BlockingConnection } from './blocking.js'
export { type Codec, guardCodec, jsonCodec } from './codec.js'
export {
  type ClusterOptions,
  Connection,
  type ConnectionEvents,
  type ConnectionOptions,
  type DuplicateOptions,
  type NodeHandle,
  type NodeRedisClient,
  type ReconnectingEvent,
  type SendOptions,
  type SentinelOptions,
  type Topology,
} from './connection.js'
export type { Closer, RedkitContext } from './context.js'
export { type DoctorReport, type Finding, formatDoctorReport, runDoctor, type Severity } from './doctor.js'
export { type ErrorCode, ErrorCodes, isRedkitError, RedkitError, type RedkitErrorOptions } from './errors.js'
export { compileGlob, isLiteralGlob } from './glob.js'
export { escapeGlob, hashSlot, KeySpace, MAX_NAME_LENGTH, type ObjectKeys, validateName, validateObjectName } from './keys.js'
export { PubSub, type PubSubListener, type SubscriptionKind } from './pubsub.js'
export { defineScript, LUA_DIR, loadScript, parseScript, Script, type ScriptArg, type ScriptSource } from './scripts.js'
export { ensureExpiredEvents, hasExpiredEvents, parseInfo, readConfig } from './server-config.js'
export { type ReaderEntry, StreamGroupReader, type StreamGroupReaderOptions } from './stream-group-reader.js'
export { entriesOf, fieldsToRecord, type StreamEntry } from './stream-reply.js'
