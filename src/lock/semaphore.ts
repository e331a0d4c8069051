import { validateCount } from '../core/backoff.js'
import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { FairLock } from './fair-lock.js'
import { lockKeys } from './keys.js'
import { resolveLockOptions } from './options.js'
import type { SemaphoreOptions } from './types.js'

export const MAX_PERMITS = 1_000_000

/**
 * A counting semaphore: at most `permits` holders at once. Each permit expires with its TTL (the
 * watchdog extends it while held), so a dead holder's permit returns; waiters are served first in,
 * first out and woken by name when a permit is handed to them. One handle holds one permit.
 */
export class Semaphore extends FairLock {
  readonly permits: number

  constructor(ctx: RedkitContext, name: string, options: SemaphoreOptions) {
    if (typeof options !== 'object' || options === null)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'semaphore options with permits are required')
    const permits = validateCount(options.permits, 'permits')
    if (permits > MAX_PERMITS)
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `permits must be at most ${MAX_PERMITS}, got ${permits}`)
    super(
      ctx,
      name,
      { keys: lockKeys(ctx, 'sem', name, 'semaphore name'), capacity: permits, weight: 1, describe: `semaphore ${name}` },
      resolveLockOptions(options),
    )
    this.permits = permits
  }
}
