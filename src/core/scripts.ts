import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Connection } from './connection.js'
import { type ErrorCode, ErrorCodes, RedkitError } from './errors.js'
import { hashSlot } from './keys.js'

/** Where redkit's own scripts live: src/lua in the sources, dist/lua once built. */
export const LUA_DIR = new URL('../lua/', import.meta.url)

export type ScriptArg = string | number

/** A parsed `.lua` file: its body, SHA1 and the KEYS/ARGV contract read from its header. */
export interface ScriptSource {
  readonly name: string
  readonly body: string
  readonly sha: string
  readonly numKeys: number
  readonly keyNames: readonly string[]
  readonly argNames: readonly string[]
}

/**
 * Reads a script and its header. The header is a `--[[ ... ]]` block that names every KEYS[i] and
 * ARGV[i] and describes the reply; the number of keys is taken from it, so a call site can never
 * pass a different count than the script expects.
 */
export function parseScript(name: string, body: string): ScriptSource {
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(body.trimStart())?.[1]
  if (!header) throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${name} has no --[[ ... ]] header`)
  const keyNames = collect(header, 'KEYS', name)
  const argNames = collect(header, 'ARGV', name)
  if (!/^\s*Reply:/m.test(header)) throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${name} header does not describe its Reply`)
  return { name, body, sha: createHash('sha1').update(body).digest('hex'), numKeys: keyNames.length, keyNames, argNames }
}

function collect(header: string, kind: 'KEYS' | 'ARGV', script: string): string[] {
  const names: string[] = []
  for (const match of header.matchAll(new RegExp(`^\\s*${kind}\\[(\\d+)\\]\\s*(.*)$`, 'gm'))) {
    const index = Number(match[1])
    if (index !== names.length + 1)
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${script}: ${kind}[${index}] out of order in the header`)
    names.push((match[2] ?? '').trim())
  }
  return names
}

const sourceCache = new Map<string, ScriptSource>()

/** Loads `<name>.lua` from redkit's Lua directory (or `dir`), once per process. */
export function loadScript(name: string, dir: URL = LUA_DIR): ScriptSource {
  const cacheKey = `${dir.href}${name}`
  let source = sourceCache.get(cacheKey)
  if (!source) {
    let body: string
    try {
      body = readFileSync(new URL(`${name}.lua`, dir), 'utf8')
    } catch (error) {
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${name}.lua not found in ${dir.pathname}`, { cause: error })
    }
    source = parseScript(name, body)
    sourceCache.set(cacheKey, source)
  }
  return source
}

/**
 * A typed handle on one script: `Keys` and `Args` are tuples, so call sites cannot swap or forget
 * positions. Runs with EVALSHA and falls back to EVAL (which also caches the script on that node)
 * when a node answers NOSCRIPT — after a restart, a failover or on a Cluster node seen for the first time.
 */
export class Script<Keys extends readonly string[], Args extends readonly ScriptArg[], Reply> {
  readonly source: ScriptSource

  constructor(source: ScriptSource) {
    this.source = source
  }

  async run(connection: Connection, keys: Keys, args: Args): Promise<Reply> {
    const { source } = this
    if (keys.length !== source.numKeys) {
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${source.name} takes ${source.numKeys} keys, got ${keys.length}`)
    }
    if (connection.topology === 'cluster') assertOneSlot(source.name, keys)
    const tail = [String(source.numKeys), ...keys, ...args.map(String)]
    const route = { key: keys[0] }
    try {
      return await connection.send<Reply>(['EVALSHA', source.sha, ...tail], route)
    } catch (error) {
      if (!isNoScript(error)) throw mapScriptError(source.name, error)
    }
    try {
      return await connection.send<Reply>(['EVAL', source.body, ...tail], route)
    } catch (error) {
      throw mapScriptError(source.name, error)
    }
  }
}

/** Declares a typed script from `src/lua/<name>.lua`. */
export function defineScript<Keys extends readonly string[], Args extends readonly ScriptArg[], Reply>(
  name: string,
  dir?: URL,
): Script<Keys, Args, Reply> {
  return new Script<Keys, Args, Reply>(loadScript(name, dir))
}

function assertOneSlot(name: string, keys: readonly string[]): void {
  if (keys.length < 2) return
  const slot = hashSlot(keys[0] as string)
  for (const key of keys) {
    if (hashSlot(key) !== slot)
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${name}: keys span several Cluster slots (${keys.join(', ')})`)
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && /NOSCRIPT/.test(error.message)
}

const CODES = new Set<string>(Object.values(ErrorCodes))

/**
 * Scripts report expected failures as `return redis.error_reply('E_CODE message')`; those become
 * RedkitErrors with that code. Anything else is E_SCRIPT.
 */
export function mapScriptError(name: string, error: unknown): RedkitError {
  const message = error instanceof Error ? error.message : String(error)
  const match = /\b(E_[A-Z_]+)\b\s*(.*)$/s.exec(message)
  if (match && CODES.has(match[1] as string)) {
    return new RedkitError(match[1] as ErrorCode, (match[2] ?? '').trim() || `script ${name} failed`, {
      cause: error,
      details: { script: name },
    })
  }
  if (error instanceof RedkitError && error.code !== ErrorCodes.E_REDIS) return error
  return new RedkitError(ErrorCodes.E_SCRIPT, `script ${name} failed: ${message}`, { cause: error, details: { script: name } })
}
