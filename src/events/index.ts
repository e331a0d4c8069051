export { Expirations, type ExpirationsEvents } from './expirations.js'
export {
  Presence,
  type PresenceDeadLetter,
  type PresenceEvent,
  type PresenceEvents,
  type PresenceMember,
  type PresenceOfflineEvent,
  type PresenceOnlineEvent,
  type PresenceOptions,
  type PresenceTransitions,
  type PresenceWatchOptions,
} from './presence.js'
export type {
  DeadLetter,
  ExpirationsOptions,
  ExpireOptions,
  ExpiryEvent,
  ExpiryHandler,
  ExpirySetOptions,
  SubscribeOptions,
  Subscription,
} from './types.js'
