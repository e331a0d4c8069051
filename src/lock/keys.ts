import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { MAX_NAME_LENGTH, validateObjectName } from '../core/keys.js'

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

/**
 * Checks a name that becomes part of an object name after `<kind>:`, against the limit that
 * leaves room for it, so the error names the caller's name and the limit that applies to it.
 */
function partName(name: unknown, what: string, reserved: number): string {
  const valid = validateObjectName(name, what)
  const limit = MAX_NAME_LENGTH - reserved
  if (valid.length > limit)
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} is ${valid.length} characters long; the limit is ${limit}`)
  return valid
}

export function lockKeys(ctx: Pick<RedkitContext, 'keys'>, kind: LockKind, name: string, what = 'lock name'): LockKeys {
  const object = ctx.keys.object(`${kind}:${partName(name, what, kind.length + 1)}`)
  return { holders: object('holders'), queue: object('queue'), waiters: object('waiters'), channel: object('wake') }
}

/**
 * An inventory or product name: no ':' either, since `inv:<inventory>:<product>` must name one
 * pair only (`shop` + `eu:sku1` and `shop:eu` + `sku1` would share one stock, finding 19).
 */
export function inventoryName(name: unknown, what: string): string {
  const valid = validateObjectName(name, what)
  if (valid.includes(':'))
    throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not contain ':' (it separates the inventory from the product)`, {
      details: { name: valid },
    })
  return valid
}

/** The keys of one product of an inventory (one slot per product), and its reservation `id`'s record. */
export interface ProductKeys {
  readonly stock: string
  readonly reservation: string
}

export function productKeys(ctx: Pick<RedkitContext, 'keys'>, inventory: string, product: string, id: string): ProductKeys {
  const object = ctx.keys.object(`inv:${inventory}:${inventoryName(product, 'product')}`)
  return { stock: object('stock'), reservation: object('res', id) }
}

/** The key whose reliable expiry is the lapse of one reservation generation. */
export function lapseMarker(ctx: Pick<RedkitContext, 'keys'>, inventory: string, product: string, id: string, gen: string): string {
  return ctx.keys.object(`inv:${inventory}:${product}`)('lapse', id, gen)
}
