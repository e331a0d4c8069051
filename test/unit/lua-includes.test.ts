import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { LUA_DIR, loadScript } from '../../src/core/scripts.js'

const scripts = readdirSync(LUA_DIR)
  .filter((file) => file.endsWith('.lua'))
  .map((file) => file.slice(0, -4))
const INCLUDES = new URL('includes/', LUA_DIR)
const includes = readdirSync(INCLUDES)
  .filter((file) => file.endsWith('.lua'))
  .map((file) => file.slice(0, -4))

// What Redis's Lua offers every script; anything else an include calls it must define itself.
const GLOBALS = new Set([
  'redis',
  'tonumber',
  'tostring',
  'unpack',
  'ipairs',
  'pairs',
  'type',
  'math',
  'string',
  'table',
  'cjson',
  'error',
  'pcall',
  'select',
  'next',
])

describe('Lua includes', () => {
  it.each(scripts)('%s loads with every include expanded', (name) => {
    const source = loadScript(name)
    expect(source.body).not.toMatch(/@include/)
    for (const include of source.includes) expect(includes).toContain(include)
  })

  it.each(includes)('%s is self-contained: it calls only what it defines or Redis Lua offers', (name) => {
    const raw = readFileSync(new URL(`${name}.lua`, INCLUDES), 'utf8')
    const text = raw.replace(/--.*$/gm, '').replace(/'[^']*'/g, "''")
    const defined = new Set([...text.matchAll(/local\s+function\s+([A-Za-z_]\w*)/g)].map((m) => m[1]))
    // An include may include another (declared at its top): what that one defines counts too.
    for (const m of raw.matchAll(/^---\s*@include\s+"([a-z0-9-]+)"/gm)) {
      const inner = readFileSync(new URL(`${m[1]}.lua`, INCLUDES), 'utf8')
      for (const f of inner.matchAll(/local\s+function\s+([A-Za-z_]\w*)/g)) defined.add(f[1])
    }
    // A function's parameters (a callback it is given) and its locals count as its own.
    for (const m of text.matchAll(/function\s*[\w.]*\s*\(([^)]*)\)/g)) for (const p of (m[1] ?? '').split(',')) defined.add(p.trim())
    for (const m of text.matchAll(/local\s+([\w\s,]+?)\s*=/g)) for (const p of (m[1] ?? '').split(',')) defined.add(p.trim())
    // `name(` is a call and `name.field` an access; `name ..` is a concatenation.
    for (const match of text.matchAll(/(?<![.:\w])([A-Za-z_]\w*)\s*(?:\(|\.(?!\.))/g)) {
      const called = match[1] as string
      if (['function', 'if', 'then', 'return', 'and', 'or', 'not'].includes(called)) continue
      expect(defined.has(called) || GLOBALS.has(called), `${name}.lua calls ${called} without defining it`).toBe(true)
    }
    // Only locals: an include must not create globals (Redis rejects them) or rely on the script's.
    expect(text).not.toMatch(/^\s*function\s/m)
  })

  // Each shared snippet lives in its one include; nothing else may hold a copy.
  const homes: Array<[RegExp, string]> = [
    [/redis\.call\('TIME'\)/, 'server-time'],
    [/\* 4294967296 \+/, 'priority-score'],
    [/'MINID', '~'/, 'retention-trim'],
  ]
  it.each(homes)('leaves no second copy of %s outside the %s include', (pattern, home) => {
    const files = [
      ...scripts.map((name) => new URL(`${name}.lua`, LUA_DIR)),
      ...includes.filter((name) => name !== home).map((name) => new URL(`includes/${name}.lua`, LUA_DIR)),
    ]
    for (const file of files) expect(readFileSync(file, 'utf8'), file.pathname).not.toMatch(pattern)
  })

  it('queue-schedule and queue-cancel share one remove-from-wherever-it-waits', () => {
    for (const name of ['queue-schedule', 'queue-cancel']) expect(loadScript(name).includes).toContain('remove-waiting')
  })
})
