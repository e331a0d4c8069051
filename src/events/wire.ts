/**
 * The stored field names and codes of the events module, in one place. The Lua headers name the
 * same fields; a change here is a change of the stored format.
 */

/**
 * Expiry events: a stream entry carries up to EVENTS_PER_ENTRY events (the event-value include):
 * BATCH_FIELD = BATCH_FORMAT, then key = deadline, or deadline + '|' when a value is kept aside
 * (in the values stream under the entry's id, field = the event's position from 1).
 */
export const BATCH_FIELD = ''
export const BATCH_FORMAT = 'b1'
/**
 * Events per stream entry. One entry per event cost a stream entry, a pending-list entry and an
 * acknowledgement per event (42,000 events/s); per batch of 100 they cost about 1% of that. A crash
 * re-delivers the entry's events already handled (at least once), so entries stay small.
 */
export const EVENTS_PER_ENTRY = 100

/** An expiry event of the previous version: one stream entry per event (still read). */
export const EVENT_FIELD = {
  key: 'k',
  deadline: 'd',
  /** The kept value: `VALUE_CODEC` + encoded, or `VALUE_RAW` + the raw string. */
  value: 'v',
} as const

/** Prefix of a kept value encoded by the codec (`set`, `expire`/`track` with `value`). */
export const VALUE_CODEC = 'c'
/** Prefix of a kept value that is the key's raw string (`expire`/`track` with `keepValue`). */
export const VALUE_RAW = 'r'

/** An expiry dead letter. */
export const DEAD_FIELD = {
  id: 'id',
  key: 'k',
  deadline: 'd',
  group: 'g',
  error: 'e',
  attempts: 'n',
} as const

/** Separates a user key from the deadline of an expiry kept aside in the index (`expiry-lapsed.lua`). */
export const LAPSED_SEPARATOR = '\0'

/** A presence member's record: `<since>,<lastBeat>,` then '' or `PRESENCE_META` + encoded meta. */
export const PRESENCE_META = 'm'

/** A presence transition (stream entry) and the types it carries. */
export const TRANSITION_FIELD = {
  type: 't',
  id: 'id',
  at: 'at',
  since: 's',
  lastBeat: 'lb',
  meta: 'm',
} as const

/** A presence dead letter. */
export const PRESENCE_DEAD_FIELD = {
  eventId: 'eid',
  type: 't',
  id: 'id',
  group: 'g',
  error: 'e',
  attempts: 'n',
} as const

/** The registry field that marks a stream whose state was lost (`stream-group-create.lua`). */
export const REGISTRY_RESET = '~reset'
