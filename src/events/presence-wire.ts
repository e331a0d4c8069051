import type { Codec } from '../core/codec.js'
import { ErrorCodes, RedkitError, thrownText } from '../core/errors.js'
import type { ReaderEntry } from '../core/stream-group-reader.js'
import { fieldsToRecord } from '../core/stream-reply.js'
import type { PresenceDeadLetter, PresenceEvent } from './presence-types.js'

/**
 * The stored forms of a presence, read back: a member's record (`<since>,<lastBeat>,<meta>`), a
 * transition's stream entry, and the dead letter of one that failed every attempt.
 */
export class PresenceWire<M> {
  readonly #codec: Codec
  readonly #presence: string
  readonly #stream: string
  readonly #report: (error: RedkitError) => void

  constructor(codec: Codec, presence: string, stream: string, report: (error: RedkitError) => void) {
    this.#codec = codec
    this.#presence = presence
    this.#stream = stream
    this.#report = report
  }

  /** A transition entry as a handler gets it; undefined (and reported) when malformed. */
  toEvent(eventId: string, f: Record<string, string>, attempt: number): PresenceEvent<M> | undefined {
    const at = Number(f.at)
    const since = Number(f.s)
    if ((f.t !== 'online' && f.t !== 'offline') || f.id === undefined || !Number.isFinite(at) || !Number.isFinite(since)) {
      this.#report(new RedkitError(ErrorCodes.E_DECODE, `malformed presence transition ${eventId} in ${this.#stream}`))
      return undefined
    }
    const { meta, metaError } = this.decodeMeta(f.m === undefined ? '' : `m${f.m}`)
    const base = { eventId, presence: this.#presence, id: f.id, meta, since, at, attempt }
    const event: PresenceEvent<M> = f.t === 'online' ? { ...base, type: 'online' } : { ...base, type: 'offline', lastBeat: Number(f.lb) }
    if (metaError) event.metaError = metaError
    return event
  }

  /** Stored meta ('' or 'm' + encoded); a value that no longer decodes is reported and comes back as metaError. */
  decodeMeta(stored: string): { meta: M | undefined; metaError?: RedkitError } {
    if (stored === '') return { meta: undefined }
    try {
      return { meta: this.#codec.decode(stored.slice(1)) as M }
    } catch (error) {
      const metaError =
        error instanceof RedkitError ? error : new RedkitError(ErrorCodes.E_DECODE, `cannot decode presence meta`, { cause: error })
      this.#report(metaError)
      return { meta: undefined, metaError }
    }
  }

  /** The dead letter of a transition that failed every attempt, and its stored fields. */
  deadLetter(entry: ReaderEntry, group: string, attempts: number, error: unknown): { letter: PresenceDeadLetter; fields: string[] } {
    const f = fieldsToRecord(entry.fields)
    const letter: PresenceDeadLetter = {
      eventId: entry.streamId,
      type: f.t ?? '',
      id: f.id ?? '',
      group,
      error: thrownText(error),
      attempts,
    }
    return {
      letter,
      fields: ['eid', letter.eventId, 't', letter.type, 'id', letter.id, 'g', group, 'e', letter.error, 'n', String(attempts)],
    }
  }
}

/** A member's record: `<since>,<lastBeat>,` then '' or 'm' + encoded meta. */
export function parseRecord(record: string): { since: number; lastBeat: number; meta: string } | undefined {
  const match = /^(\d+),(\d+),([\s\S]*)$/.exec(record)
  if (!match) return undefined
  return { since: Number(match[1]), lastBeat: Number(match[2]), meta: match[3] as string }
}
