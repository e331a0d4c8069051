import { parseArgs } from 'node:util'
import { ErrorCodes, RedkitError } from '../core/errors.js'

/**
 * The CLI's argument handling on `node:util` parseArgs (no dependency): each command declares its
 * options once, and help text, parsing and validation all come from that declaration.
 */

export interface OptionSpec {
  type: 'string' | 'boolean'
  /** Shown in help as `--name <value>`. */
  value?: string
  help: string
  /** Turns the raw text into the value the command uses; throws an Error whose message says why. */
  parse?: (text: string) => unknown
  default?: unknown
}

export interface CommandSpec<Values = Record<string, unknown>> {
  name: string
  summary: string
  /** Positional arguments in order; `choices` restricts a value. */
  positionals: ReadonlyArray<{ name: string; help: string; choices?: readonly string[] }>
  options: Record<string, OptionSpec>
  /** Extra paragraphs after the option list. */
  epilog?: string
  /** Exit code for usage errors (bad flags or arguments). */
  usageExitCode: number
  run(positionals: string[], values: Values): Promise<void>
}

/** `--redis-url` style flag name for an option key such as `redisUrl`. */
function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`
}

export function helpOf(spec: CommandSpec<never>): string {
  const args = spec.positionals.map((p) => `<${p.name}>`).join(' ')
  const lines = [`Usage: redkit ${spec.name}${args ? ` ${args}` : ''} [options]`, '', spec.summary, '']
  if (spec.positionals.length > 0) {
    lines.push('Arguments:')
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(22)} ${p.help}${p.choices ? ` (one of: ${p.choices.join(', ')})` : ''}`)
    lines.push('')
  }
  lines.push('Options:')
  for (const [key, option] of Object.entries(spec.options)) {
    const flag = `${flagOf(key)}${option.value ? ` <${option.value}>` : ''}`
    lines.push(`  ${flag.padEnd(22)} ${option.help}`)
  }
  lines.push(`  ${'-h, --help'.padEnd(22)} show this help`)
  if (spec.epilog) lines.push('', spec.epilog)
  return lines.join('\n')
}

export interface Parsed {
  help: boolean
  positionals: string[]
  values: Record<string, unknown>
}

/** Parses `argv` (after the command name) against the spec; usage errors are `E_INVALID_ARGUMENT`. */
export function parseCommand(spec: CommandSpec<never>, argv: string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } }
  const byFlag = new Map<string, string>()
  for (const [key, option] of Object.entries(spec.options)) {
    const flag = flagOf(key).slice(2)
    options[flag] = { type: option.type }
    byFlag.set(flag, key)
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, (error as Error).message.split('\n')[0] ?? 'bad arguments', { cause: error })
  }
  if (parsed.values.help) return { help: true, positionals: [], values: {} }
  const values: Record<string, unknown> = {}
  for (const [key, option] of Object.entries(spec.options)) if (option.default !== undefined) values[key] = option.default
  for (const [flag, raw] of Object.entries(parsed.values)) {
    const key = byFlag.get(flag)
    if (key === undefined) continue
    const option = spec.options[key] as OptionSpec
    if (option.parse && typeof raw === 'string') {
      try {
        values[key] = option.parse(raw)
      } catch (error) {
        throw new RedkitError(
          ErrorCodes.E_INVALID_ARGUMENT,
          `option '${flagOf(key)} <${option.value ?? 'value'}>' argument '${raw}' is invalid: ${(error as Error).message}`,
        )
      }
    } else values[key] = raw
  }
  const positionals = parsed.positionals
  if (positionals.length < spec.positionals.length) {
    const missing = spec.positionals[positionals.length]
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `missing required argument '${missing?.name}'`)
  }
  if (positionals.length > spec.positionals.length)
    throw new RedkitError(
      ErrorCodes.E_INVALID_ARGUMENT,
      `too many arguments: expected ${spec.positionals.length}, got ${positionals.length}`,
    )
  spec.positionals.forEach((p, i) => {
    const value = positionals[i] as string
    if (p.choices && !p.choices.includes(value))
      throw new RedkitError(
        ErrorCodes.E_INVALID_ARGUMENT,
        `argument '${value}' is invalid: ${p.name} must be one of ${p.choices.join(', ')}`,
      )
  })
  return { help: false, positionals, values }
}

/** A positive integer, for `--timeout <ms>` and `--limit <n>`. */
export function positiveInteger(text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new Error('expected a positive integer')
  return n
}

/** `--timeout <ms>`: how long a command waits for its Redis connection. */
export function timeoutOption(defaultMs: number): OptionSpec {
  return {
    type: 'string',
    value: 'ms',
    help: `how long to wait for the connection (default: ${defaultMs})`,
    parse: positiveInteger,
    default: defaultMs,
  }
}
