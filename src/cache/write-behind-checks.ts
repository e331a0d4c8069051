import type { Connection } from '../core/connection.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { checkEviction, readConfig } from '../core/server-config.js'

/**
 * Queued writes are data, not cache: a Redis that evicts keys, or keeps nothing across a restart,
 * loses them. @returns the problems found (CONFIG being unavailable is not one: rk.doctor() says so)
 */
export async function checkWriteBehindServer(connection: Connection, cache: string): Promise<RedkitError[]> {
  const masters = connection.masters()
  const what = `the queued writes of cache ${cache} (write-behind)`
  const problems: RedkitError[] = []
  const eviction = await checkEviction(masters, what)
  if (eviction) problems.push(eviction)
  for (const node of masters) {
    const config = await readConfig(node, ['appendonly', 'save']).catch(() => undefined)
    if (config?.get('appendonly') !== 'no' || (config.get('save') ?? '').trim() !== '') continue
    problems.push(
      new RedkitError(
        ErrorCodes.E_SERVER_CONFIG,
        `${node.address} has neither AOF (appendonly) nor RDB snapshots (save): a Redis restart loses ${what}. Set appendonly yes.`,
        { details: { setting: 'appendonly', current: 'no', expected: 'yes', node: node.address } },
      ),
    )
    break
  }
  return problems
}
