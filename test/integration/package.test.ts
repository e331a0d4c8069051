import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'

const ROOT = new URL('../..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> }

describe('the built package', () => {
  beforeAll(() => {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' })
  }, 120_000)

  it.each(Object.keys(pkg.exports).filter((p) => p !== './package.json'))('exports %s with its types', (subpath) => {
    const specifier = `redkit${subpath.slice(1)}`
    // Self-reference by package name: resolved through the exports map, exactly as a user would.
    const names = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import('${specifier}'); console.log(Object.keys(m).join(','))`],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    )
    expect(names.trim().length).toBeGreaterThan(0)
    const entry = pkg.exports[subpath] as { types: string }
    expect(readFileSync(new URL(`../../${entry.types}`, import.meta.url), 'utf8').length).toBeGreaterThan(0)
  })

  it('ships the Lua scripts beside the compiled code', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "const { loadScript } = await import('redkit'); console.log(loadScript('events-set').numKeys)"],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    )
    expect(out.trim()).toBe('4')
  })
})
