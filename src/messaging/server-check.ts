import type { RedkitError } from '../core/errors.js'
import { checkEviction as findEviction } from '../core/server-config.js'
import type { MessagingContext } from './context.js'

const checks = new WeakMap<MessagingContext, Promise<RedkitError | undefined>>()

/**
 * Checks once per redkit instance that no master may evict keys: with `maxmemory` set and a policy
 * other than `noeviction`, Redis deletes queued jobs and leases under memory pressure. Resolves the
 * error to report (naming the setting and the fix), or undefined.
 */
export function checkEviction(ctx: MessagingContext): Promise<RedkitError | undefined> {
  let check = checks.get(ctx)
  if (!check) {
    check = findEviction(ctx.connection.masters(), 'queued jobs and leases')
    checks.set(ctx, check)
  }
  return check
}
