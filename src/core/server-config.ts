import type { NodeHandle } from './connection.js'
import { ErrorCodes, RedkitError } from './errors.js'

/**
 * Reads CONFIG parameters from one node. Returns undefined when CONFIG is disabled or renamed
 * (managed services such as ElastiCache do this), so callers can explain instead of crash.
 */
export async function readConfig(node: NodeHandle, names: readonly string[]): Promise<Map<string, string> | undefined> {
  try {
    const reply = await node.send<unknown>(['CONFIG', 'GET', ...names])
    return toMap(reply)
  } catch (error) {
    if (isConfigUnavailable(error)) return undefined
    throw error
  }
}

function toMap(reply: unknown): Map<string, string> {
  const out = new Map<string, string>()
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]))
  } else if (reply instanceof Map) {
    for (const [k, v] of reply) out.set(String(k), String(v))
  } else if (reply && typeof reply === 'object') {
    for (const [k, v] of Object.entries(reply)) out.set(k, String(v))
  }
  return out
}

function isConfigUnavailable(error: unknown): boolean {
  return error instanceof Error && /unknown command|NOPERM|no permissions|not allowed|disabled/i.test(error.message)
}

/** Parses the INFO text into a flat map. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue
    const i = line.indexOf(':')
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1))
  }
  return out
}

/** True when the `notify-keyspace-events` flags emit keyevent notifications for expirations. */
export function hasExpiredEvents(flags: string): boolean {
  return flags.includes('E') && (flags.includes('x') || flags.includes('A'))
}

/**
 * Makes sure `notify-keyspace-events` emits `expired` keyevents on this node, adding `Ex` to the
 * flags already set (never removing another program's flags).
 * @throws RedkitError E_SERVER_CONFIG naming the setting when CONFIG is not allowed.
 */
export async function ensureExpiredEvents(node: NodeHandle): Promise<void> {
  const config = await readConfig(node, ['notify-keyspace-events'])
  const current = config?.get('notify-keyspace-events')
  if (current !== undefined && hasExpiredEvents(current)) return
  const wanted = mergeFlags(current ?? '', 'Ex')
  try {
    await node.send(['CONFIG', 'SET', 'notify-keyspace-events', wanted])
  } catch (error) {
    throw new RedkitError(
      ErrorCodes.E_SERVER_CONFIG,
      `notify-keyspace-events on ${node.address} must include "Ex" for expiry notifications and redkit may not change it (${(error as Error).message}). Set notify-keyspace-events to "${wanted}" in the server configuration (redis.conf, or the parameter group of a managed service).`,
      { cause: error, details: { setting: 'notify-keyspace-events', value: wanted, node: node.address } },
    )
  }
}

export function mergeFlags(current: string, add: string): string {
  let out = current
  for (const flag of add) if (!out.includes(flag)) out += flag
  return out
}

/**
 * The first master that may evict keys (`maxmemory` set and a policy other than `noeviction`), as
 * the error to report: it names the setting, what would be lost (`what`) and the fix. CONFIG being
 * unavailable (managed services) is not reported here: `rk.doctor()` explains it.
 */
export async function checkEviction(masters: readonly NodeHandle[], what: string): Promise<RedkitError | undefined> {
  for (const node of masters) {
    const config = await readConfig(node, ['maxmemory', 'maxmemory-policy']).catch(() => undefined)
    const maxmemory = Number(config?.get('maxmemory') ?? '0')
    const policy = config?.get('maxmemory-policy') ?? 'noeviction'
    if (maxmemory > 0 && policy !== 'noeviction') {
      return new RedkitError(
        ErrorCodes.E_SERVER_CONFIG,
        `maxmemory-policy is ${policy} on ${node.address} with maxmemory ${maxmemory}: Redis may evict ${what} under memory pressure. Set maxmemory-policy to noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf or the parameter group of a managed service).`,
        { details: { setting: 'maxmemory-policy', current: policy, expected: 'noeviction', node: node.address } },
      )
    }
  }
  return undefined
}
