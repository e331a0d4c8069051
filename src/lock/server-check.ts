import type { RedkitContext } from '../core/context.js'
import { checkEviction } from '../core/server-config.js'

const checked = new WeakSet<RedkitContext>()

/**
 * Once per redkit instance, on the first acquisition: an evicting `maxmemory-policy` could delete a
 * held lock under memory pressure and let a second holder in. Warns (process warning
 * `E_SERVER_CONFIG`, naming the setting and the fix) without delaying the acquisition.
 */
export function warnIfEvictable(ctx: RedkitContext): void {
  if (checked.has(ctx)) return
  checked.add(ctx)
  void checkEviction(ctx.connection.masters(), 'held locks, semaphore permits and their queues')
    .then((problem) => {
      if (problem) process.emitWarning(problem.message, { code: problem.code, detail: JSON.stringify(problem.details) })
    })
    .catch(() => {})
}
