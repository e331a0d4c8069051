import type { RedkitContext } from '../core/context.js'
import { checkEviction } from '../core/server-config.js'

const checked = new WeakSet<RedkitContext>()

/**
 * Once per redkit instance, on the first write or subscription: an evicting `maxmemory-policy` may
 * delete a deadline index (its expiries are then never delivered) or the event stream (its groups
 * start again, see the `reset` event). Warns (process warning `E_SERVER_CONFIG`, naming the setting
 * and the fix) without delaying the call.
 */
export function warnIfEvictable(ctx: RedkitContext): void {
  if (checked.has(ctx)) return
  checked.add(ctx)
  void checkEviction(ctx.connection.masters(), 'expiry deadlines and undelivered expiry events')
    .then((problem) => {
      if (problem) process.emitWarning(problem.message, { code: problem.code, detail: JSON.stringify(problem.details) })
    })
    .catch(() => {})
}
