import type { Connection } from '../core/connection.js'
import { ErrorCodes, isRedkitError } from '../core/errors.js'

/**
 * Whether the server has the Bloom filter commands (RedisBloom, Redis 8, valkey-bloom): read from
 * COMMAND INFO, never from a version string, once per connection. On Cluster the answer of one
 * node stands for all (modules are loaded cluster-wide). A user whose ACL refuses COMMAND INFO
 * (a least-privilege user) is answered "no": it gets the Lua backend instead of E_PERMISSION on
 * every call.
 */
const detected = new WeakMap<Connection, Promise<boolean>>()

export function hasServerBloom(connection: Connection): Promise<boolean> {
  let answer = detected.get(connection)
  if (!answer) {
    answer = connection.send<unknown[]>(['COMMAND', 'INFO', 'BF.ADD']).then(
      (reply) => serverBloomIn(reply),
      (error: unknown) => {
        if (isRedkitError(error, ErrorCodes.E_PERMISSION)) return false
        detected.delete(connection)
        throw error
      },
    )
    detected.set(connection, answer)
  }
  return answer
}

/** COMMAND INFO answers one entry per command asked: null (RESP3) or nil for an unknown command. */
export function serverBloomIn(reply: unknown): boolean {
  return Array.isArray(reply) && reply.length > 0 && reply[0] !== null && reply[0] !== undefined
}
