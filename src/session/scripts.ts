import { defineKeyedScript } from '../core/scripts.js'
import type { SessionKeys, UserKeys } from './keys.js'

export const createScript = defineKeyedScript<
  SessionKeys,
  [
    data: string,
    userId: string,
    idleMs: number,
    absoluteAt: number,
    fingerprint: string,
    csrf: string,
    ip: string,
    userAgent: string,
    createdAt: number,
    epoch: number,
  ],
  number | [number, number, number]
>('session-create')
export const takeScript = defineKeyedScript<SessionKeys, [fingerprint: string], null | 'mismatch' | Array<string | null>>('session-take')
export const touchScript = defineKeyedScript<SessionKeys, [touchIntervalMs: number, fingerprint: string], number>('session-touch')
export const updateScript = defineKeyedScript<SessionKeys, [data: string, fingerprint: string], number>('session-update')

export const storeSetScript = defineKeyedScript<
  SessionKeys,
  [text: string, ttlMs: number, absoluteMs: number, graceMs: number],
  number | string | null
>('session-store-set')
export const storeEndScript = defineKeyedScript<SessionKeys, [leastMs: number, persistentMs: number], [string | null, number]>(
  'session-store-end',
)

export const indexAddScript = defineKeyedScript<UserKeys, [id: string, deadline: number], [size: number, epoch: number]>(
  'session-index-add',
)
export const indexCheckScript = defineKeyedScript<UserKeys, [oldId: string], number>('session-index-check')
export const revokeScript = defineKeyedScript<UserKeys, [epochMs: number], Array<string | number>>('session-revoke')
export const storeTouchScript = defineKeyedScript<SessionKeys, [ttlMs: number, absoluteMs: number, graceMs: number], number>(
  'session-store-touch',
)
