import type { RedkitContext } from '../core/context.js'
import { FairLock } from './fair-lock.js'
import { lockKeys } from './keys.js'
import { resolveLockOptions } from './options.js'
import type { LockOptions } from './types.js'

/**
 * A mutex across every process that shares the Redis: one holder at a time, fair by default
 * (first in, first out, with a direct handoff on release), a fencing token strictly increasing per
 * name (also across a Redis restart without persistence), a watchdog that keeps extending the
 * hold, and a local deadline that aborts the holder's signal as soon as the hold may have lapsed.
 */
export class Lock extends FairLock {
  constructor(ctx: RedkitContext, name: string, options: LockOptions = {}) {
    const resolved = resolveLockOptions(options)
    super(ctx, name, { keys: lockKeys(ctx, 'lock', name), capacity: 1, weight: 1, describe: `lock ${name}` }, resolved)
  }
}
