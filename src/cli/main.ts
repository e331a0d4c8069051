#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { type CommandSpec, helpOf, parseCommand } from './args.js'
import { aclCommand } from './commands/acl.js'
import { demoCommand } from './commands/demo.js'
import { doctorCommand } from './commands/doctor.js'
import { queueCommand } from './commands/queue.js'
import { serveCommand } from './commands/serve.js'
import { watchCommand } from './commands/watch.js'
import { exit, fail } from './output.js'

// src/cli/main.ts and dist/cli/main.js are both two levels below package.json.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

// One file per command in ./commands/.
const commands = [serveCommand, demoCommand, doctorCommand, aclCommand, queueCommand, watchCommand] as unknown as Array<CommandSpec<never>>

function overview(): string {
  return [
    'Usage: redkit <command> [options]',
    '',
    'Redis patterns for Node.js: expiry events, caches, queues, locks, sessions, stats',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'Options:',
    '  -V, --version  print the version',
    '  -h, --help     show this help (redkit <command> --help for a command)',
  ].join('\n')
}

const [name, ...rest] = process.argv.slice(2)
if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
  process.stdout.write(`${overview()}\n`)
  await exit(name === undefined ? 1 : 0)
} else if (name === '-V' || name === '--version') {
  process.stdout.write(`${version}\n`)
  await exit(0)
} else {
  const command = commands.find((c) => c.name === name)
  if (!command) {
    process.stderr.write(`redkit: unknown command '${name}'\n\n${overview()}\n`)
    await exit(1)
  } else {
    let parsed: ReturnType<typeof parseCommand> | undefined
    try {
      parsed = parseCommand(command, rest)
    } catch (error) {
      await fail(command.name, error, command.usageExitCode)
    }
    if (parsed?.help) {
      process.stdout.write(`${helpOf(command)}\n`)
      await exit(0)
    } else if (parsed) await command.run(parsed.positionals, parsed.values as never)
  }
}
