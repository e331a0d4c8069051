import { ErrorCodes, RedkitError } from './errors.js'
import { KeySpace } from './keys.js'
import { optionsObject } from './validate.js'

/** Which parts of redkit the ACL user must be able to run. */
export interface AclOptions {
  /** The redkit prefix (`createRedkit({ prefix })`). @defaultValue 'rk' */
  prefix?: string
  /** Add what Redis Cluster needs: the slot map, sharded pub/sub. @defaultValue false */
  cluster?: boolean
  /**
   * Let native expiry mode turn on `notify-keyspace-events` itself (`CONFIG SET`). Without it the
   * operator sets `Ex` and redkit verifies it with a probe key. @defaultValue false
   */
  configSet?: boolean
  /**
   * The Redis patterns of pattern channels (`rk.channel(name, { pattern: true }).redisName`): Redis
   * checks a PSUBSCRIBE pattern literally against the user's channel rules, so `&<prefix>:*` does
   * not cover it and each one must be listed as it is.
   */
  patterns?: readonly string[]
}

/**
 * Every command redkit sends, directly or from its scripts, on a standalone or Sentinel-managed
 * server. Derived from `INFO commandstats` after the module suites ran, minus what only the tests
 * send; test/integration/acl.test.ts runs every module under exactly this list.
 */
const COMMANDS = [
  // connection set-up, health, clock, diagnostics
  'hello',
  'auth',
  'select',
  'ping',
  'time',
  'info',
  'client|setname',
  'client|tracking',
  'command|info',
  'config|get',
  // scripts (every multi-key operation is one)
  'eval',
  'evalsha',
  // WAIT: durable writes, Redlock's replicas
  'wait',
  // strings, counters, bitmaps
  'get',
  'getex',
  'set',
  'mget',
  'incr',
  'incrby',
  'decrby',
  'getbit',
  'setbit',
  'del',
  'unlink',
  'exists',
  'type',
  'pexpire',
  'pexpireat',
  'pexpiretime',
  'pttl',
  'persist',
  'scan',
  // hashes
  'hget',
  'hset',
  'hsetnx',
  'hdel',
  'hgetall',
  'hmget',
  'hincrby',
  // locks: the holder count checked before a script reads the holders
  'hlen',
  // lists (queue, presence)
  'lpush',
  'rpush',
  'lpop',
  'blpop',
  'llen',
  'lrange',
  'lrem',
  'ltrim',
  'lpos',
  // sets
  'sadd',
  'sscan',
  'smembers',
  // sorted sets (schedules, deadlines, leaderboards, windows)
  'zadd',
  'zrem',
  'zcard',
  'zcount',
  'zscore',
  'zmscore',
  'zrank',
  'zrevrank',
  'zrange',
  'zrevrange',
  'zrangebyscore',
  'zremrangebyscore',
  'zremrangebyrank',
  'zpopmin',
  // streams (reliable expiry, write-behind)
  'xadd',
  'xack',
  'xdel',
  'xlen',
  'xrange',
  'xread',
  'xreadgroup',
  'xclaim',
  'xpending',
  'xtrim',
  'xgroup|create',
  'xgroup|delconsumer',
  'xgroup|destroy',
  'xinfo|consumers',
  'xinfo|groups',
  'xautoclaim',
  // HyperLogLog (unique counts; pfmerge for counts over more than 100 buckets)
  'pfadd',
  'pfcount',
  'pfmerge',
  // pub/sub
  'publish',
  'subscribe',
  'unsubscribe',
  'psubscribe',
  'punsubscribe',
  'pubsub|numsub',
] as const

// ASKING: a command for a key already moved by a migration in progress is resent with it.
const CLUSTER_COMMANDS = ['cluster|slots', 'cluster|myid', 'cluster|nodes', 'asking', 'spublish', 'ssubscribe', 'sunsubscribe'] as const

/** Escapes Redis glob metacharacters, so a prefix is matched as it is written. */
function literal(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/**
 * The least-privilege ACL rules for a redkit user: its keys (`~<prefix>:*`), its channels
 * (`&<prefix>:*`), the expired-key event channel of native mode, the probe key native mode uses
 * where CONFIG is disabled, and the named commands redkit sends; nothing else.
 *
 *   ACL SETUSER app on >secret <...aclRules({ prefix: 'rk' })>
 *
 * @throws RedkitError E_INVALID_KEY for a bad prefix, E_INVALID_ARGUMENT for bad options
 */
export function aclRules(options: AclOptions = {}): string[] {
  if (options === null || typeof options !== 'object') {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'aclRules options must be an object')
  }
  const prefix = new KeySpace(options.prefix ?? 'rk').prefix
  const patterns = options.patterns ?? []
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== 'string' || p.length === 0 || /\s/.test(p))) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'patterns must be non-empty channel patterns without spaces')
  }
  const commands: string[] = [...COMMANDS]
  if (options.cluster) commands.push(...CLUSTER_COMMANDS)
  if (options.configSet) commands.push('config|set')
  return [
    'resetkeys',
    `~${literal(prefix)}:*`,
    '~__redkit:probe:*',
    'resetchannels',
    `&${literal(prefix)}:*`,
    '&__keyevent@*__:expired',
    ...patterns.map((p) => `&${p}`),
    '-@all',
    ...commands.map((c) => `+${c}`),
  ]
}

/** The whole `ACL SETUSER` line, as the docs and `redkit acl` print it (the password is a placeholder unless given). */
export function aclSetUserLine(user: string, options: AclOptions & { password?: string } = {}): string {
  if (typeof user !== 'string' || !/^[A-Za-z0-9_.@-]{1,128}$/.test(user)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'user must be 1..128 letters, digits or _ . @ -')
  }
  options = optionsObject(options)
  return ['ACL', 'SETUSER', user, 'on', `>${options.password ?? '<password>'}`, ...aclRules(options)].join(' ')
}
