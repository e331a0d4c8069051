import { ErrorCodes, RedkitError } from '../core/errors.js'
import { readConfig } from '../core/server-config.js'
import type { MessagingContext } from './context.js'

const checks = new WeakMap<MessagingContext, Promise<RedkitError | undefined>>()

/**
 * Checks once per redkit instance that no master may evict keys: with `maxmemory` set and a policy
 * other than `noeviction`, Redis deletes queued jobs and leases under memory pressure. Resolves the
 * error to report (naming the setting and the fix), or undefined. CONFIG being unavailable (managed
 * services) is not an error here: `rk.doctor()` explains it.
 */
export function checkEviction(ctx: MessagingContext): Promise<RedkitError | undefined> {
  let check = checks.get(ctx)
  if (!check) {
    check = (async () => {
      for (const node of ctx.connection.masters()) {
        const config = await readConfig(node, ['maxmemory', 'maxmemory-policy']).catch(() => undefined)
        const maxmemory = Number(config?.get('maxmemory') ?? '0')
        const policy = config?.get('maxmemory-policy') ?? 'noeviction'
        if (maxmemory > 0 && policy !== 'noeviction') {
          return new RedkitError(
            ErrorCodes.E_SERVER_CONFIG,
            `maxmemory-policy is ${policy} on ${node.address} with maxmemory ${maxmemory}: Redis may evict queued jobs and leases under memory pressure. Set maxmemory-policy to noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf or the parameter group of a managed service).`,
            { details: { setting: 'maxmemory-policy', current: policy, expected: 'noeviction', node: node.address } },
          )
        }
      }
      return undefined
    })()
    checks.set(ctx, check)
  }
  return check
}
