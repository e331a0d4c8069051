import { defineScript } from '../core/scripts.js'

type LockReply = [1, string] | [2, string, string] | [3, number]

/** How a script sends its messages: from Lua, or ('reply') returned after its result for the caller to SPUBLISH. */
export type TellMode = 'PUBLISH' | 'SPUBLISH' | 'reply'

/** A script's result, then the messages it left for the caller to send (mode 'reply'). */
export type TellReply = [result: number, ...messages: string[]]

/** Typed handles on the cache's Lua scripts (src/lua/cache-*.lua). */
export const scripts = {
  lock: defineScript<
    [entry: string, lock: string, version: string],
    [token: string, lockTtlMs: number, createdAfter: number, freshAt: number, freshVersion: string],
    LockReply
  >('cache-lock'),
  set: defineScript<
    [entry: string, lock: string, version: string],
    [
      text: string,
      ttlMs: number,
      token: string,
      channel: string,
      fillMessage: string,
      invalidation: string,
      leaseVersion: string,
      versionTtlMs: number,
      voidMessage: string,
      tell: TellMode,
      freshVersion: string,
      through: '' | 'through',
    ],
    TellReply
  >('cache-set'),
  unlock: defineScript<[lock: string], [token: string, channel: string, message: string, tell: TellMode], TellReply>('cache-unlock'),
  delete: defineScript<
    [entry: string, lock: string, version: string],
    [channel: string, invalidation: string, versionTtlMs: number, tell: TellMode, freshVersion: string],
    TellReply
  >('cache-delete'),
  tagAdd: defineScript<[tag: string], [ttlMs: number, entry: string], number>('cache-tag-add'),
  wbAdd: defineScript<
    [stream: string, latest: string, deadAt: string, queued: string],
    [key: string, op: 'set' | 'delete', value: string],
    string
  >('cache-wb-add'),
  wbAck: defineScript<[stream: string, latest: string, queued: string], string[], number>('cache-wb-ack'),
  wbDead: defineScript<
    [stream: string, latest: string, dead: string, deadAt: string, queued: string],
    [group: string, id: string, key: string, op: string, value: string, error: string, attempts: number],
    [string, number]
  >('cache-wb-dead'),
  wbReplay: defineScript<[stream: string, latest: string, dead: string, deadAt: string, queued: string], [count: number], [number, number]>(
    'cache-wb-replay',
  ),
  livePublish: defineScript<[meta: string], [version: number, channel: string, publish: 'PUBLISH' | 'SPUBLISH'], number>(
    'cache-live-publish',
  ),
  liveRead: defineScript<
    [meta: string, data: string, lock: string],
    [localVersion: number, token: string, lockTtlMs: number],
    [0, number, number] | [1, number, number, string] | [2, number] | [3, number, number]
  >('cache-live-read'),
  liveStore: defineScript<
    [meta: string, data: string, lock: string],
    [version: number, text: string, token: string, channel: string, publish: 'PUBLISH' | 'SPUBLISH'],
    number
  >('cache-live-store'),
}

export type { LockReply }
