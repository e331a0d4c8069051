import { ErrorCodes, RedkitError } from '../../core/errors.js'
import type { CommandSpec } from '../args.js'
import { fail, urlSecrets } from '../output.js'

interface ServeCliFlags {
  port?: string
  host?: string
  redisUrl?: string
  databaseUrl?: string
}

/** What `redkit serve` needs from the service package; it is a separate install so the library stays small. */
interface ServerPackage {
  resolveServeConfig(flags: ServeCliFlags): { redisUrl: string | undefined; databaseUrl?: string | undefined }
  runService(config: unknown): Promise<unknown>
}

const SERVER_PACKAGE = '@redkit/server'

export async function loadServer(): Promise<ServerPackage> {
  try {
    // A variable specifier: the library does not depend on the service, it only uses it when present.
    const specifier: string = SERVER_PACKAGE
    return (await import(specifier)) as ServerPackage
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes(SERVER_PACKAGE)) throw error
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `redkit serve needs the service package: install it with \`npm install ${SERVER_PACKAGE}\` (in the redkit repository, \`npm start\` builds it)`,
    )
  }
}

/** `redkit serve`: the Fastify service from `@redkit/server` (`npm start` runs it). */
export const serveCommand: CommandSpec<ServeCliFlags> = {
  name: 'serve',
  summary: 'run the redkit service (dashboard, REST API, health, Prometheus metrics) against Redis',
  positionals: [],
  options: {
    port: { type: 'string', value: 'port', help: 'port to listen on; 0 picks a free one (default: $PORT, else 3000)' },
    host: { type: 'string', value: 'host', help: 'interface to listen on (default: $HOST, else 127.0.0.1)' },
    redisUrl: {
      type: 'string',
      value: 'url',
      help: 'Redis to use (default: $REDIS_URL, else a server already on 127.0.0.1:6379, else an embedded redis-server)',
    },
    databaseUrl: {
      type: 'string',
      value: 'url',
      help: 'PostgreSQL demo database (default: $DATABASE_URL, else an embedded PGlite in memory, or in $PGLITE_DIR)',
    },
  },
  usageExitCode: 1,
  async run(_positionals, flags) {
    let server: ServerPackage
    let config: { redisUrl: string | undefined; databaseUrl?: string | undefined }
    try {
      server = await loadServer()
      config = server.resolveServeConfig(flags)
    } catch (error) {
      return fail('serve', error, 1)
    }
    try {
      await server.runService(config)
    } catch (error) {
      return fail('serve', error, 1, [...urlSecrets(config.redisUrl), ...urlSecrets(config.databaseUrl)])
    }
  },
}
