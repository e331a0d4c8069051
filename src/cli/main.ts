#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { doctorCommand } from './commands/doctor.js'
import { queueCommand } from './commands/queue.js'
import { serveCommand } from './commands/serve.js'
import { watchCommand } from './commands/watch.js'

// src/cli/main.ts and dist/cli/main.js are both two levels below package.json.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const program = new Command('redkit')
  .description('Redis patterns for Node.js: expiry events, caches, queues, locks, sessions, stats')
  .version(version)
  // One file per command in ./commands/.
  .addCommand(serveCommand())
  .addCommand(doctorCommand())
  .addCommand(queueCommand())
  .addCommand(watchCommand())

await program.parseAsync(process.argv)
