import type { RedkitContext } from '../core/context.js'
import { errors } from '../core/errors.js'
import { count } from '../core/validate.js'
import { FairLock } from './fair-lock.js'
import { lockKeys } from './keys.js'
import { resolveLockOptions } from './options.js'
import type { SemaphoreOptions } from './types.js'
import { MAX_HOLDERS } from './wire.js'

/** Every permit is a holder that each script reads: see MAX_HOLDERS. */
export const MAX_PERMITS = MAX_HOLDERS

/**
 * A counting semaphore: at most `permits` holders at once. Each permit expires with its TTL (the
 * watchdog extends it while held), so a dead holder's permit returns; waiters are served first in,
 * first out and woken by name when a permit is handed to them. One handle holds one permit.
 */
export class Semaphore extends FairLock {
  readonly permits: number

  constructor(ctx: RedkitContext, name: string, options: SemaphoreOptions) {
    if (typeof options !== 'object' || options === null)
      throw errors.invalidArgument('semaphore options', 'an object with permits', options)
    const permits = count(options.permits, 'permits', { max: MAX_PERMITS })
    super(
      ctx,
      name,
      { keys: lockKeys(ctx, 'sem', name, 'semaphore name'), capacity: permits, weight: 1, describe: `semaphore ${name}` },
      resolveLockOptions(options),
    )
    this.permits = permits
  }
}
