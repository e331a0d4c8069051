// The public API of `redkit`: createRedkit, the instance and its option, event and result types,
// and the error type. Modules live in their subpaths (`redkit/events`, `redkit/cache`, ...).
// Nothing internal is exported; test/unit/public-api.test.ts pins this list.
export { type AclOptions, aclRules, aclSetUserLine } from './core/acl.js'
export type { Codec } from './core/codec.js'
export type {
  ClusterOptions,
  ConnectionOptions,
  NodeRedisClient,
  ReconnectingEvent,
  RedisCredentials,
  SentinelOptions,
  Topology,
} from './core/connection.js'
export type { DoctorReport, Finding, Severity } from './core/doctor.js'
export type { DurableOptions } from './core/durability.js'
export {
  type ErrorCode,
  ErrorCodes,
  isRedkitError,
  RedkitError,
  type RedkitErrorOptions,
  redactUrlCredentials,
} from './core/errors.js'
export type { Subscription } from './core/subscription.js'
export { createRedkit, Redkit, type RedkitEvents, type RedkitOptions } from './redkit.js'
