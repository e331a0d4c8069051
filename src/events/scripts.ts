import { defineScript } from '../core/scripts.js'

/** Typed handles on the Lua scripts of the reliable expiry machinery. */
export const scripts = {
  set: defineScript<
    [key: string, index: string, values: string, claimed: string, tracked: string],
    [value: string, ttlMs: number, keep: '0' | '1', wake: string],
    [deadline: number, touchAt: number]
  >('events-set'),
  expire: defineScript<
    [key: string, index: string, values: string, claimed: string, tracked: string],
    [ttlMs: number, keep: '0' | '1' | `c${string}`, wake: string],
    [deadline: number, touchAt: number]
  >('events-expire'),
  cancel: defineScript<[key: string, index: string, values: string, claimed: string, tracked: string], [deleteKey: '0' | '1'], number>(
    'events-cancel',
  ),
  sweep: defineScript<
    [index: string, values: string, stream: string, eventValues: string, tracked: string],
    [limit: number, minId: string, perEntry: number],
    [number, number, number, number]
  >('events-sweep'),
  claim: defineScript<
    [index: string, values: string, claimed: string, tracked: string],
    [limit: number, leaseMs: number],
    Array<string | number | null>
  >('events-claim'),
  /** ARGV: MINID, events per entry, then triples key, deadline, kept value or ''. */
  append: defineScript<[stream: string, eventValues: string], Array<string | number>, number>('events-append'),
  trim: defineScript<
    [stream: string, eventValues: string, registry: string],
    [replayMs: number, retentionMs: number, staleMs: number],
    [number, number, number]
  >('events-trim'),
  /** ARGV: lease end, then pairs member, deadline. */
  release: defineScript<[index: string, values: string, claimed: string, tracked: string], string[], number>('events-release'),
  dirTouch: defineScript<[directory: string, versions: string], string[], number>('events-dir-touch'),
  dirSettle: defineScript<[directory: string, versions: string], [slot: string, version: string, next: number], number>(
    'events-dir-settle',
  ),
}
