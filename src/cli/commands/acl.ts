import { aclSetUserLine } from '../../core/acl.js'
import type { CommandSpec } from '../args.js'
import { exit, fail } from '../output.js'

interface AclFlags {
  prefix: string
  user: string
  cluster?: boolean
  configSet?: boolean
  patterns?: string[]
}

/**
 * `redkit acl`: prints the least-privilege `ACL SETUSER` line for a prefix, the same rules
 * test/integration/acl.test.ts runs every module under. The password is a placeholder.
 */
export const aclCommand: CommandSpec<AclFlags> = {
  name: 'acl',
  summary: 'print the least-privilege ACL SETUSER line redkit needs for a prefix',
  positionals: [],
  options: {
    prefix: { type: 'string', value: 'prefix', help: 'the redkit prefix (default: rk)', default: 'rk' },
    user: { type: 'string', value: 'name', help: 'the ACL user name (default: redkit)', default: 'redkit' },
    cluster: { type: 'boolean', help: 'add what Redis Cluster needs (slot map, sharded pub/sub)' },
    configSet: { type: 'boolean', help: 'let native expiry mode enable notify-keyspace-events itself (CONFIG SET)' },
    patterns: {
      type: 'string',
      value: 'list',
      help: 'pattern channels’ Redis patterns, comma-separated, allowed as written (PSUBSCRIBE checks them literally)',
      parse: (text) => text.split(',').filter(Boolean),
    },
  },
  epilog: 'Replace <password> with the password (or use ACL SETUSER ... #<sha256> for a hashed one).',
  usageExitCode: 2,
  async run(_positionals, flags) {
    try {
      const line = aclSetUserLine(flags.user, {
        prefix: flags.prefix,
        cluster: flags.cluster === true,
        configSet: flags.configSet === true,
        patterns: flags.patterns ?? [],
      })
      process.stdout.write(`${line}\n`)
      await exit(0)
    } catch (error) {
      await fail('acl', error, 2)
    }
  },
}
