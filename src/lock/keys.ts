import type { RedkitContext } from '../core/context.js'
import { validateObjectName } from '../core/keys.js'

/** What kind of lock a name belongs to: each kind has its own keys, so a mutex and a semaphore may share a name. */
export type LockKind = 'lock' | 'sem' | 'rw'

/** The keys of one lock, all in one hash tag (one Cluster slot), and its wake-up channel. */
export interface LockKeys {
  readonly holders: string
  readonly queue: string
  readonly waiters: string
  /** A channel, not a key: scripts receive it in ARGV. In the lock's slot, so it can be a shard channel. */
  readonly channel: string
}

export function lockKeys(ctx: Pick<RedkitContext, 'keys'>, kind: LockKind, name: string, what = 'lock name'): LockKeys {
  const object = ctx.keys.object(`${kind}:${validateObjectName(name, what)}`)
  return { holders: object('holders'), queue: object('queue'), waiters: object('waiters'), channel: object('wake') }
}

/** The keys of one product of an inventory (one slot per product), and its reservation `id`'s record. */
export interface ProductKeys {
  readonly stock: string
  readonly reservation: string
}

export function productKeys(ctx: Pick<RedkitContext, 'keys'>, inventory: string, product: string, id: string): ProductKeys {
  const object = ctx.keys.object(`inv:${inventory}:${validateObjectName(product, 'product')}`)
  return { stock: object('stock'), reservation: object('res', id) }
}

/** The key whose reliable expiry is the lapse of one reservation generation. */
export function lapseMarker(ctx: Pick<RedkitContext, 'keys'>, inventory: string, product: string, id: string, gen: string): string {
  return ctx.keys.object(`inv:${inventory}:${product}`)('lapse', id, gen)
}
