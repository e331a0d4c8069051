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
    const text = readFileSync(new URL(`${name}.lua`, INCLUDES), 'utf8')
      .replace(/--.*$/gm, '')
      .replace(/'[^']*'/g, "''")
    const defined = new Set([...text.matchAll(/local\s+function\s+([A-Za-z_]\w*)/g)].map((m) => m[1]))
    for (const match of text.matchAll(/(?<![.:\w])([A-Za-z_]\w*)\s*[.(]/g)) {
      const called = match[1] as string
      if (['function', 'if', 'then', 'return', 'and', 'or', 'not'].includes(called)) continue
      expect(defined.has(called) || GLOBALS.has(called), `${name}.lua calls ${called} without defining it`).toBe(true)
    }
    // Only locals: an include must not create globals (Redis rejects them) or rely on the script's.
    expect(text).not.toMatch(/^\s*function\s/m)
  })

  it('leaves no second copy of a shared snippet in the scripts', () => {
    for (const name of scripts) {
      const body = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8')
      expect(body, name).not.toMatch(/redis\.call\('TIME'\)/)
      expect(body, name).not.toMatch(/4294967296/)
      expect(body, name).not.toMatch(/'MINID', '~'/)
    }
  })

  it('queue-schedule and queue-cancel share one remove-from-wherever-it-waits', () => {
    for (const name of ['queue-schedule', 'queue-cancel']) expect(loadScript(name).includes).toContain('remove-waiting')
  })
})
