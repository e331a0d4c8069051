/**
 * Everything a cache writes that another process (or another version of redkit) reads: the
 * message codes on a cache's channel, the key suffixes beside an entry, and the field names of the
 * write-behind streams. Renaming any of these breaks processes that run side by side.
 */

/**
 * What caches tell each other on their channel, `<type>|<instance>|<body>`:
 * - `f` filled: the value of key `<body>` landed in Redis (waiters read it);
 * - `a` absent: the loader found nothing and nothing was cached (waiters answer undefined);
 * - `u` uncacheable: loaded but not stored (too large, unencodable): waiters load it themselves;
 * - `e` failed: `<key>\n<error message>`, the loader failed (waiters fail with E_LOAD_FAILED);
 *   the message is scrubbed of credentials and cut to its first line, at most 200 characters;
 * - `i` invalidate: `<key>\n<key>...`, near copies of these keys are stale, and any load in
 *   flight of them was voided (waiters read again).
 * Keys never contain '\n' (control characters are rejected), so the body splits safely.
 */
export const MSG = {
  filled: 'f',
  absent: 'a',
  uncacheable: 'u',
  failed: 'e',
  invalidate: 'i',
} as const

export type MessageType = (typeof MSG)[keyof typeof MSG]

export function message(type: MessageType, instance: string, body: string): string {
  return `${type}|${instance}|${body}`
}

export interface ParsedMessage {
  type: string
  instance: string
  body: string
}

export function parseMessage(text: string): ParsedMessage | undefined {
  const first = text.indexOf('|')
  if (first !== 1) return undefined
  const second = text.indexOf('|', 2)
  if (second < 0) return undefined
  return { type: text.charAt(0), instance: text.slice(2, second), body: text.slice(second + 1) }
}

/** Longest loader error text published to other processes. */
export const FAILURE_TEXT_MAX = 200

/** What each key of an entry starts with, after `<prefix>:` (the hash tag `{<cache>:<key>}` follows: one slot). */
export const ENTRY_ROOT = {
  /** The entry: its value and metadata, PX its hard TTL. */
  entry: 'cache',
  /** The load lock (distributed stampede protection): a random token, PX the lock TTL. */
  lock: 'cache-lock',
  /** The lease version: bumped by every delete, set and invalidation; a load stores only while it is unchanged. */
  version: 'cache-ver',
} as const

/** Fields of a write-behind stream entry (`XADD <cache>:wb * k <key> o <op> v <value>`). */
export const WB_FIELD = { key: 'k', op: 'o', value: 'v' } as const

/** Extra fields of a dead letter: the write's stream id, its last error, its attempts. */
export const DEAD_FIELD = { id: 'id', error: 'e', attempts: 'n' } as const

/** Live dataset messages `<code>|<version>` (published by cache-live-*.lua): `v` a version was announced, `s` one was stored. */
export const LIVE_MSG = { announced: 'v', stored: 's' } as const

/** Fields of a live dataset's metadata hash: the announced version, and the version of the stored data. */
export const LIVE_FIELD = { version: 'version', data: 'data' } as const
