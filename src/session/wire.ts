/**
 * What session scripts store and reply. A manager's session is a hash with these fields (see
 * src/lua/session-create.lua); `parseFields` reads an HMGET of them, in this order.
 */
export const FIELDS = ['u', 'd', 'c', 'a', 'i', 'x', 'f', 'k', 'ip', 'ua', 'e'] as const

/** session-create: the id exists. */
export const CREATE_TAKEN = -1
/** session-create: the absolute deadline has passed (a rotated session is not revived). */
export const CREATE_PAST_DEADLINE = -2
/** session-update and session-touch: the caller's fingerprint differs. */
export const FINGERPRINT_MISMATCH = -1
/** session-store-set: the id is destroyed (tombstoned); nothing was written. */
export const STORE_DESTROYED = -1
