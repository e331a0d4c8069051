import { Command } from 'commander'
import { resolveServeConfig, runService, type ServeConfig } from '../../server/index.js'
import { fail, urlSecrets } from '../output.js'

interface ServeCliFlags {
  port?: string
  host?: string
  redisUrl?: string
}

/** `redkit serve`: the Fastify service (`npm start` runs it). */
export function serveCommand(): Command {
  return new Command('serve')
    .description('run the redkit service (health, Prometheus metrics) against Redis')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: $PORT, else 3000)')
    .option('--host <host>', 'interface to listen on (default: $HOST, else 127.0.0.1)')
    .option(
      '--redis-url <url>',
      'Redis to use (default: $REDIS_URL, else a server already on 127.0.0.1:6379, else an embedded redis-server)',
    )
    .action(async (flags: ServeCliFlags) => {
      let config: ServeConfig
      try {
        config = resolveServeConfig(flags)
      } catch (error) {
        return fail('serve', error, 1)
      }
      try {
        await runService(config)
      } catch (error) {
        return fail('serve', error, 1, urlSecrets(config.redisUrl))
      }
    })
}
