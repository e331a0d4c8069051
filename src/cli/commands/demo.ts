import type { CommandSpec } from '../args.js'
import { exit, fail, urlSecrets } from '../output.js'
import { loadServer } from './serve.js'

interface DemoCliFlags {
  load?: boolean
  rate?: string
  duration?: string
  url?: string
  port?: string
  host?: string
  redisUrl?: string
  databaseUrl?: string
}

/** `redkit demo --load [--rate N]`: the service with generated traffic on every scenario. */
export const demoCommand: CommandSpec<DemoCliFlags> = {
  name: 'demo',
  summary: 'run the service and drive every scenario with generated traffic (--load), so the dashboard shows real data',
  positionals: [],
  options: {
    load: { type: 'boolean', help: 'generate traffic on every scenario' },
    rate: { type: 'string', value: 'n', help: 'scenario steps per second of the load, each one to three requests (default 20)' },
    duration: { type: 'string', value: 'seconds', help: 'stop after this long, with a summary (default: until Ctrl-C)' },
    url: { type: 'string', value: 'url', help: 'load an already running service instead of starting one' },
    port: { type: 'string', value: 'port', help: 'as for serve' },
    host: { type: 'string', value: 'host', help: 'as for serve' },
    redisUrl: { type: 'string', value: 'url', help: 'as for serve' },
    databaseUrl: { type: 'string', value: 'url', help: 'as for serve' },
  },
  usageExitCode: 1,
  async run(_positionals, flags) {
    try {
      const server = (await loadServer()) as unknown as { runDemo(flags: DemoCliFlags): Promise<void> }
      await server.runDemo(flags)
    } catch (error) {
      return fail('demo', error, 1, [...urlSecrets(flags.redisUrl), ...urlSecrets(flags.databaseUrl)])
    }
    // A bounded run has stopped the load and the service: done. Otherwise the service runs until a signal.
    if (flags.duration !== undefined || (flags.url !== undefined && flags.load)) await exit(0)
  },
}
