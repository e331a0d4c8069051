import type { RedkitContext } from '../core/context.js'
import { checkEviction } from '../core/server-config.js'

const checked = new WeakSet<RedkitContext>()

/**
 * Once per redkit instance with sessions (managers, and every framework store: each leaves logout
 * tombstones): an evicting `maxmemory-policy` could delete a user's index (revoke-all then ends
 * nothing), a revocation epoch or a tombstone (a revoked session comes back). Warns (process warning `E_SERVER_CONFIG`, naming the setting and the
 * fix) without delaying anything.
 */
export function warnIfEvictable(ctx: RedkitContext): void {
  if (checked.has(ctx)) return
  checked.add(ctx)
  void checkEviction(
    ctx.connection.masters(),
    'session user indexes, revocation epochs and logout tombstones (revoke-all would miss sessions)',
  )
    .then((problem) => {
      if (problem) process.emitWarning(problem.message, { code: problem.code, detail: JSON.stringify(problem.details) })
    })
    .catch(() => {})
}
