import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'

// What a new user does: `npm pack` in the checkout (prepack builds dist/), then `npm install` of the
// tarball into an empty project with npm's defaults, then imports by package name and real work
// against a throwaway server. Nothing here reads the checkout's dist/ or node_modules.
const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> }
const SUBPATHS = Object.keys(pkg.exports).filter((p) => p !== './package.json')
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare']

const SMOKE = `
import { createRedkit } from 'redkit'
const rk = await createRedkit({ url: process.env.REDIS_URL, prefix: 'smoke' })
const expired = new Promise((resolve) => {
  rk.expirations.on('hold:*', (event) => resolve(event.key), { group: 'smoke' }).then(() => rk.expirations.set('hold:1', { n: 1 }, { ttlMs: 200 }))
})
const done = new Promise((resolve) => rk.worker('mail', async (job) => resolve(job.data.to)))
await rk.queue('mail').add({ to: 'ada@example.com' })
console.log(JSON.stringify({ expired: await expired, job: await done }))
await rk.close()
`

describe('the packed package, installed into a fresh project', () => {
  let work: string
  let project: string
  let tarball: string
  let server: RedisProcess

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'redkit-pack-'))
    server = await startRedisServer()
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>
    tarball = path.join(work, path.basename(info?.filename ?? ''))
    project = path.join(work, 'app')
    await run('mkdir', ['-p', project])
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
    // npm's defaults: scripts allowed, nothing skipped. The registry is needed for `redis` only.
    await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project, maxBuffer: 64 * 1024 * 1024 })
  }, 240_000)

  afterAll(async () => {
    await server?.stop()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('ships dist/ with the Lua scripts, and runs no install-time script', () => {
    const installed = path.join(project, 'node_modules', 'redkit')
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
    for (const script of INSTALL_SCRIPTS) expect(manifest.scripts?.[script], `${script} script`).toBeUndefined()
    expect(existsSync(path.join(installed, 'dist', 'index.js'))).toBe(true)
    expect(existsSync(path.join(installed, 'dist', 'lua', 'events-set.lua'))).toBe(true)
    expect(existsSync(path.join(installed, 'LICENSE'))).toBe(true)
    // Sources, tests and the service stay out of the library's tarball.
    for (const absent of ['src', 'test', 'packages', 'bench']) expect(existsSync(path.join(installed, absent)), absent).toBe(false)
  })

  it('installs the Redis client and no web framework', () => {
    const modules = path.join(project, 'node_modules')
    expect(existsSync(path.join(modules, 'redis'))).toBe(true)
    for (const absent of ['fastify', 'prom-client', 'commander', 'express'])
      expect(existsSync(path.join(modules, absent)), absent).toBe(false)
  })

  it.each(SUBPATHS)('imports %s by package name, with its types', async (subpath) => {
    const specifier = `redkit${subpath.slice(1)}`
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import('${specifier}'); console.log(Object.keys(m).join(','))`],
      { cwd: project },
    )
    expect(stdout.trim().length).toBeGreaterThan(0)
    const types = (pkg.exports[subpath] as { types: string }).types
    expect(existsSync(path.join(project, 'node_modules', 'redkit', types))).toBe(true)
  })

  it('delivers one expiry and runs one job against a throwaway server', async () => {
    writeFileSync(path.join(project, 'smoke.mjs'), SMOKE)
    const { stdout } = await run(process.execPath, ['smoke.mjs'], {
      cwd: project,
      env: { ...process.env, REDIS_URL: server.url },
      timeout: 30_000,
    })
    expect(JSON.parse(stdout.trim())).toEqual({ expired: 'hold:1', job: 'ada@example.com' })
  })

  it('has the redkit CLI on the path of the project', async () => {
    const { stdout } = await run(path.join(project, 'node_modules', '.bin', 'redkit'), ['--version'], { cwd: project })
    expect(stdout.trim()).toBe((pkg as unknown as { version: string }).version)
  })
})
