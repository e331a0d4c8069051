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
