import { defineScript } from '../core/scripts.js'

type Keys = [holders: string, queue: string, waiters: string]

export const acquireScript = defineScript<
  Keys,
  [token: string, ttlMs: number, weight: number, capacity: number, placeMs: number, unfair: string, channel: string, kind: string],
  [status: number, a: number, b: number]
>('lock-acquire')

export const releaseScript = defineScript<
  Keys,
  [token: string, capacity: number, unfair: string, channel: string, kind: string, localPrefix: string],
  Array<number | string>
>('lock-release')

export const extendScript = defineScript<[holders: string], [token: string, ttlMs: number], number>('lock-extend')
