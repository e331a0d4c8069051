import { defineKeyedScript } from '../core/scripts.js'
import type { LockKeys, ProductKeys } from './keys.js'

export const acquireScript = defineKeyedScript<
  LockKeys,
  [
    token: string,
    ttlMs: number,
    weight: number,
    capacity: number,
    placeMs: number,
    unfair: string,
    channel: string,
    kind: string,
    handoffTtlMs: number,
  ],
  [status: number, a: number, b: number]
>('lock-acquire')

export const releaseScript = defineKeyedScript<
  LockKeys,
  [
    token: string,
    capacity: number,
    unfair: string,
    channel: string,
    kind: string,
    localPrefix: string,
    /** Six values per attempt riding along: token, ttlMs, weight, placeMs, unfair, handoffTtlMs. */
    ...riders: Array<string | number>,
  ],
  Array<number | string>
>('lock-release')

export const extendScript = defineKeyedScript<LockKeys, [token: string, ttlMs: number], number>('lock-extend')

export const reserveScript = defineKeyedScript<
  ProductKeys,
  [qty: number, user: string, gen: string, lapseMs: number, keepMs: number],
  [status: number, value: number]
>('inventory-reserve')

export const settleScript = defineKeyedScript<
  ProductKeys,
  [op: 'confirm' | 'cancel' | 'lapse', gen: string, keepMs: number],
  [status: number, value: string | number]
>('inventory-settle')

export const addStockScript = defineKeyedScript<ProductKeys, [units: number], [status: number, value: number | string]>('inventory-add')
