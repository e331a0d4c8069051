export { SessionManager } from './manager.js'
export { type ClientContext, type FingerprintOption, IdSigner } from './security.js'
export { SingleSignOn, type SsoOptions, type SsoSession, type SsoTimeouts, type SsoView } from './sso.js'
export { type FrameworkSession, RedkitSessionStore, type SessionStoreOptions, type StoreCallback, type StoredSessionData } from './store.js'
export type {
  ExpiredSession,
  ExpiredSessionHandler,
  GetSessionOptions,
  OnExpiredOptions,
  Session,
  SessionEvents,
  SessionInfo,
  SessionOptions,
} from './types.js'
