import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Connection } from './connection.js'
import { type ErrorCode, ErrorCodes, PERMISSION_DENIED, RedkitError, thrownText } from './errors.js'
import { hashSlot } from './keys.js'

/** Where redkit's own scripts live: src/lua in the sources, dist/lua once built. */
export const LUA_DIR = new URL('../lua/', import.meta.url)

export type ScriptArg = string | number

/** What running a script needs of a connection (a Connection, or a link to one independent server). */
export type ScriptConnection = Pick<Connection, 'topology' | 'send'>

/** A parsed `.lua` file: its body (includes expanded), SHA1 and the KEYS/ARGV contract read from its header. */
export interface ScriptSource {
  readonly name: string
  readonly body: string
  readonly sha: string
  readonly numKeys: number
  /** The last KEYS entry is `KEYS[n...]`: a call passes at least numKeys keys, any number more. */
  readonly variadicKeys: boolean
  /** The header's description of each KEYS[i]. */
  readonly keyNames: readonly string[]
  readonly argNames: readonly string[]
  /**
   * The identifier of each KEYS[i] when the header names it (`KEYS[1] ready: list of ready ids`),
   * else undefined: a handle's `keys(k)` builder must use exactly these names, in this order.
   */
  readonly keyIds: readonly (string | undefined)[]
  /** Names of the includes expanded into the body, in order. */
  readonly includes: readonly string[]
}

/**
 * Reads a script and its header. The header is a `--[[ ... ]]` block that names every KEYS[i] and
 * ARGV[i] and describes the reply; the number of keys is taken from it, so a call site can never
 * pass a different count than the script expects.
 */
export function parseScript(name: string, body: string, readInclude: IncludeReader = noIncludes): ScriptSource {
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(body.trimStart())?.[1]
  if (!header) throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${name} has no --[[ ... ]] header`)
  const keyNames = collect(header, 'KEYS', name)
  const argNames = collect(header, 'ARGV', name)
  if (!/^\s*Reply:/m.test(header)) throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${name} header does not describe its Reply`)
  const includes: string[] = []
  const expanded = expandIncludes(name, body, readInclude, includes, [])
  const keyIds = keyNames.map((text) => /^([A-Za-z_][A-Za-z0-9_]*):(?:\s|$)/.exec(text)?.[1])
  return {
    name,
    body: expanded,
    sha: createHash('sha1').update(expanded).digest('hex'),
    numKeys: keyNames.length,
    variadicKeys: variadicKeys(header),
    keyNames,
    argNames,
    keyIds,
    includes,
  }
}

/** Returns the text of `src/lua/includes/<name>.lua`. */
export type IncludeReader = (name: string) => string

const noIncludes: IncludeReader = (name) => {
  throw new RedkitError(ErrorCodes.E_SCRIPT, `include ${name}: no include directory given`)
}

const INCLUDE_LINE = /^[ \t]*---[ \t]*@include[ \t]+"([a-z0-9][a-z0-9-]*)"[ \t]*$/gm

/**
 * Replaces each `--- @include "<name>"` line with that include's text, once per script (a second
 * include of the same snippet is dropped), following includes of includes. Each include is
 * self-contained: it declares its own locals and relies on nothing the including script defines.
 */
function expandIncludes(script: string, body: string, read: IncludeReader, seen: string[], stack: string[]): string {
  return body.replace(INCLUDE_LINE, (_line, include: string) => {
    if (stack.includes(include))
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${script}: include cycle ${[...stack, include].join(' -> ')}`)
    if (seen.includes(include)) return `-- (include ${include}: already above)`
    seen.push(include)
    let text: string
    try {
      text = read(include)
    } catch (error) {
      if (error instanceof RedkitError) throw error
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${script}: include ${include} not found`, { cause: error })
    }
    const inner = expandIncludes(script, text, read, seen, [...stack, include]).replace(/\n+$/, '')
    return `-- >>> include ${include}\n${inner}\n-- <<< include ${include}`
  })
}

function collect(header: string, kind: 'KEYS' | 'ARGV', script: string): string[] {
  const names: string[] = []
  for (const match of header.matchAll(new RegExp(`^\\s*${kind}\\[(\\d+)(?:\\.\\.\\.)?\\]\\s*(.*)$`, 'gm'))) {
    const index = Number(match[1])
    if (index !== names.length + 1)
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${script}: ${kind}[${index}] out of order in the header`)
    names.push((match[2] ?? '').trim())
  }
  return names
}

/** `KEYS[n...] name: ...` declares KEYS[n] and any number after it (a batch of decisions, one key each). */
function variadicKeys(header: string): boolean {
  return /^\s*KEYS\[\d+\.\.\.\]/m.test(header)
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
    source = parseScript(name, body, (include) => readFileSync(new URL(`includes/${include}.lua`, dir), 'utf8'))
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

  async run(connection: ScriptConnection, keys: Keys, args: Args): Promise<Reply> {
    const { source } = this
    if (source.variadicKeys ? keys.length < source.numKeys : keys.length !== source.numKeys) {
      throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${source.name} takes ${source.numKeys} keys, got ${keys.length}`)
    }
    if (connection.topology === 'cluster') assertOneSlot(source.name, keys)
    const tail = [String(keys.length), ...keys, ...args.map(String)]
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

/**
 * A script handle that also builds its KEYS from a module's key object: `handle.keys(k)` picks
 * `k[id]` for each KEYS identifier the Lua header names, in the header's order, so no call site
 * orders keys by hand and the header stays the one list. `K` is the module's key object type;
 * the header's identifiers are checked against it when the handle is first used, and by
 * test/unit/script-handles.test.ts for every handle.
 */
export class KeyedScript<K extends object, Args extends readonly ScriptArg[], Reply> extends Script<readonly string[], Args, Reply> {
  /** The KEYS identifiers, in order, read from the header. */
  readonly keyIds: readonly (keyof K & string)[]

  constructor(source: ScriptSource) {
    super(source)
    const missing = source.keyIds.indexOf(undefined)
    if (missing !== -1)
      throw new RedkitError(
        ErrorCodes.E_SCRIPT,
        `script ${source.name}: KEYS[${missing + 1}] has no identifier ('KEYS[i] name: what it is')`,
      )
    this.keyIds = source.keyIds as (keyof K & string)[]
  }

  /** The KEYS of one call, in the header's order. */
  keys(k: K): string[] {
    const out: string[] = []
    for (const id of this.keyIds) {
      const key = (k as Record<string, unknown>)[id]
      if (typeof key !== 'string')
        throw new RedkitError(ErrorCodes.E_SCRIPT, `script ${this.source.name}: the key object has no key '${id}'`)
      out.push(key)
    }
    return out
  }

  /** Runs the script with the KEYS built from `k`. */
  call(connection: ScriptConnection, k: K, args: Args): Promise<Reply> {
    return this.run(connection, this.keys(k), args)
  }
}

/** Declares a typed script whose KEYS come from a key object `K` through the header's identifiers. */
export function defineKeyedScript<K extends object, Args extends readonly ScriptArg[], Reply>(
  name: string,
  dir?: URL,
): KeyedScript<K, Args, Reply> {
  return new KeyedScript<K, Args, Reply>(loadScript(name, dir))
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
  const message = thrownText(error)
  const match = /\b(E_[A-Z_]+)\b\s*(.*)$/s.exec(message)
  if (match && CODES.has(match[1] as string)) {
    return new RedkitError(match[1] as ErrorCode, (match[2] ?? '').trim() || `script ${name} failed`, {
      cause: error,
      details: { script: name },
    })
  }
  if (error instanceof RedkitError && error.code !== ErrorCodes.E_REDIS) return error
  // A command the script ran was denied by an ACL (e.g. PUBLISH to a channel the user lacks): not a script bug.
  if (PERMISSION_DENIED.test(message))
    return new RedkitError(ErrorCodes.E_PERMISSION, `script ${name}: ${message}`, { cause: error, details: { script: name } })
  return new RedkitError(ErrorCodes.E_SCRIPT, `script ${name} failed: ${message}`, { cause: error, details: { script: name } })
}
