import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findFreePort, type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { aclSetUserLine } from '../../src/core/acl.js'
import { closeAll, rawClient } from '../support/redis.js'

// The CLI runs as a child process, the way users run it. Every Redis here is a throwaway server of
// this file (some have a password or an eviction policy), never the shared one and never 6379.
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PASSWORD = 'cli-secret-9d2b'

interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/**
 * Env for the CLI: none of the developer's REDIS_URL/PORT/HOST/database settings leaks into a test,
 * and the embedded PGlite is in memory unless a test gives PGLITE_DIR or XDG_DATA_HOME (its default
 * directory must never be the developer's).
 */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PGLITE_DIR: 'memory://', ...extra }
  for (const name of ['REDIS_URL', 'PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_URL', 'XDG_DATA_HOME']) if (!(name in extra)) delete env[name]
  if ('XDG_DATA_HOME' in extra && !('PGLITE_DIR' in extra)) delete env.PGLITE_DIR
  return env
}

/** `npx tsx src/cli/main.ts ...args`, to completion. */
function runCli(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 20_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn('npx', ['tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: cliEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`redkit ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: performance.now() - start })
    })
  })
}

/**
 * A long-running `redkit serve`. Started with `node --import tsx` rather than `npx tsx`: npm exec
 * re-raises a SIGINT it received on itself, so through npx the child's exit code 0 is not observable.
 */
class ServeProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(args: string[], extraEnv: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], {
      cwd: ROOT,
      env: cliEnv(extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk
    })
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk
    })
    this.closed = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal })))
  }

  /**
   * Resolves with the first match of `pattern` in stdout. The service listens without waiting for
   * its demo database (PGlite: a few seconds, 20 s to create at load 15); what is left is tsx
   * compiling the CLI and connecting to Redis, 2-5 s at load 15.
   */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = pattern.exec(this.stdout)
      if (match) return match
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`serve never printed ${pattern}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 15_000) {
    this.child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        reject(new Error(`serve did not exit ${timeoutMs} ms after ${signal}\n${this.stdout}\n${this.stderr}`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([this.closed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const LISTENING = /listening on (http:\/\/\S+)/

describe('redkit CLI', () => {
  let plain: RedisProcess
  let secured: RedisProcess
  let evicting: RedisProcess
  const serves: ServeProcess[] = []

  beforeAll(async () => {
    ;[plain, secured, evicting] = await Promise.all([
      startRedisServer(),
      startRedisServer({ args: ['--requirepass', PASSWORD] }),
      startRedisServer({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] }),
    ])
  })

  afterAll(async () => {
    for (const serve of serves) serve.kill()
    await Promise.all([plain?.stop(), secured?.stop(), evicting?.stop()])
  })

  describe('acl', () => {
    it('prints an ACL SETUSER line that Redis accepts and that limits the user to the prefix', async () => {
      const result = await runCli(['acl', '--prefix', 'shop', '--user', 'shopper'])
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe(aclSetUserLine('shopper', { prefix: 'shop' }))
      const admin = await rawClient(plain.url)
      try {
        await admin.sendCommand(result.stdout.trim().replace('><password>', '>shop-pass').split(' '))
        const user = await rawClient(`redis://shopper:shop-pass@${plain.host}:${plain.port}`)
        try {
          expect(await user.sendCommand(['SET', 'shop:{x}:k', '1'])).toBe('OK')
          await expect(user.sendCommand(['SET', 'other:k', '1'])).rejects.toThrow(/NOPERM/)
          await expect(user.sendCommand(['FLUSHALL'])).rejects.toThrow(/NOPERM/)
        } finally {
          await closeAll(user)
        }
      } finally {
        await closeAll(admin)
      }
    })

    it('refuses a bad prefix with exit code 2 and a one-line error', async () => {
      const result = await runCli(['acl', '--prefix', 'a:b'])
      expect(result.code).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toContain('E_INVALID_KEY')
    })
  })

  describe('doctor', () => {
    it('--json reports the findings of a fresh server, including notify-keyspace-events, and exits 0', async () => {
      const result = await runCli(['doctor', '--json', '--redis-url', plain.url])
      expect(result.stderr).not.toMatch(/E_[A-Z]+/)
      expect(result.code).toBe(0)
      const report = JSON.parse(result.stdout)
      expect(report).toMatchObject({ ok: true, topology: 'standalone', nodes: [{ node: `${plain.host}:${plain.port}` }] })
      const ids = report.findings.map((finding: { id: string }) => finding.id)
      expect(ids).toContain('notify-keyspace-events')
      const notify = report.findings.find((finding: { id: string }) => finding.id === 'notify-keyspace-events')
      expect(notify.fix).toContain('CONFIG SET notify-keyspace-events')
    })

    it('prints the readable report and exits 1 when a finding is an error (eviction on queues and locks)', async () => {
      const result = await runCli(['doctor'], { REDIS_URL: evicting.url })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain(`topology: standalone; nodes: ${evicting.host}:${evicting.port}`)
      expect(result.stdout).toMatch(/\[ERROR\] maxmemory-policy/)
      expect(result.stdout).toContain('CONFIG SET maxmemory-policy noeviction')
    })

    it('exits 2 with E_CONNECTION on one line, within a few seconds, when nothing listens', async () => {
      const port = await findFreePort()
      const result = await runCli(['doctor', '--redis-url', `redis://127.0.0.1:${port}`])
      expect(result.code).toBe(2)
      // The 3 s connect timeout plus the CLI's start (tsx): 5 s of it seen on a loaded machine.
      expect(result.ms).toBeLessThan(15_000)
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('redkit doctor:'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('E_CONNECTION')
      expect(result.stderr).not.toMatch(/^\s+at /m)
      expect(result.stdout).toBe('')
    })

    it('exits 2 with E_AUTH and never prints the password when the credentials are wrong', async () => {
      const wrong = 'wrong-pass-1c5e'
      const result = await runCli(['doctor'], { REDIS_URL: `redis://:${wrong}@${secured.host}:${secured.port}` })
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('E_AUTH')
      expect(result.stderr + result.stdout).not.toContain(wrong)
      expect(result.stderr + result.stdout).not.toContain(PASSWORD)
      expect(result.stderr).not.toMatch(/^\s+at /m)
    })

    it('exits 2 with E_INVALID_ARGUMENT for a URL that is not redis://', async () => {
      const result = await runCli(['doctor', '--redis-url', 'http://127.0.0.1:1'])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('E_INVALID_ARGUMENT')
    })
  })

  describe('serve', { timeout: 60_000 }, () => {
    it('uses REDIS_URL (printed redacted), answers /health, and exits 0 on SIGINT', async () => {
      const url = `redis://:${PASSWORD}@${secured.host}:${secured.port}`
      const serve = new ServeProcess([], { REDIS_URL: url, PORT: '0' })
      serves.push(serve)
      const [, base] = await serve.waitFor(LISTENING)
      expect(serve.stdout).toContain(`redis://:***@${secured.host}:${secured.port}`)
      const response = await fetch(`${base}/health`)
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ status: 'ok', redis: { topology: 'standalone' } })
      const metrics = await (await fetch(`${base}/metrics`)).text()
      expect(metrics).toMatch(/^redkit_redis_up 1$/m)

      const { code, signal } = await serve.stop('SIGINT')
      expect({ code, signal }).toEqual({ code: 0, signal: null })
      expect(serve.stdout + serve.stderr).not.toContain(PASSWORD)
    })

    it('--port and --host flags win over PORT and HOST, and SIGTERM also exits 0', async () => {
      const port = await findFreePort()
      const serve = new ServeProcess(['--port', String(port), '--host', '127.0.0.1', '--redis-url', plain.url], {
        PORT: '1',
        HOST: 'nowhere',
      })
      serves.push(serve)
      const [, base] = await serve.waitFor(LISTENING)
      expect(base).toBe(`http://127.0.0.1:${port}`)
      expect((await fetch(`${base}/health`)).status).toBe(200)
      expect(await serve.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    })

    it('without REDIS_URL and nothing on the default port, starts an embedded redis-server and stops it on SIGINT', async () => {
      const unused = await findFreePort()
      const serve = new ServeProcess([], { PORT: '0', REDKIT_DEFAULT_REDIS_PORT: String(unused) })
      serves.push(serve)
      const [, base] = await serve.waitFor(LISTENING)
      const [, pidText, redisUrl, dir] = await serve.waitFor(/embedded redis-server \(pid (\d+)\) at (redis:\/\/\S+), data dir (\S+)/)
      const pid = Number(pidText)
      expect(redisUrl).not.toBe(`redis://127.0.0.1:${unused}`)
      expect(isRunning(pid)).toBe(true)
      expect(existsSync(dir as string)).toBe(true)

      const response = await fetch(`${base}/health`)
      expect(response.status).toBe(200)

      expect(await serve.stop('SIGINT')).toEqual({ code: 0, signal: null })
      expect(isRunning(pid)).toBe(false)
      expect(existsSync(dir as string)).toBe(false)
    })

    it('uses a server already answering on the default port instead of starting one', async () => {
      const serve = new ServeProcess([], { PORT: '0', REDKIT_DEFAULT_REDIS_PORT: String(plain.port) })
      serves.push(serve)
      await serve.waitFor(LISTENING)
      expect(serve.stdout).toContain(`using the server already running at redis://127.0.0.1:${plain.port}`)
      expect(serve.stdout).not.toContain('embedded redis-server')
      expect(await serve.stop('SIGINT')).toEqual({ code: 0, signal: null })
    })

    it('listens before the demo database is open, keeps PGlite in the user data directory, and finds its data there on the next start', {
      timeout: 150_000,
    }, async () => {
      const home = mkdtempSync(path.join(tmpdir(), 'redkit-xdg-'))
      const dir = path.join(home, 'redkit', 'pglite')
      try {
        const first = new ServeProcess([], { REDIS_URL: plain.url, PORT: '0', XDG_DATA_HOME: home })
        serves.push(first)
        const [, base] = await first.waitFor(LISTENING)
        expect(first.stdout).toContain(`data in ${dir}`)
        // Creating a PGlite directory takes seconds: the service answered before it was done.
        expect(first.stdout).not.toMatch(/open in/)
        expect((await fetch(`${base}/health`)).status).toBe(200)
        const early = await fetch(`${base}/api/users/7`)
        if (early.status === 503) expect(((await early.json()) as { error: { code: string } }).error.code).toBe('E_DB_OPENING')
        await first.waitFor(/embedded PGlite .*open in [\d.]+ s/, 120_000)
        const put = await fetch(`${base}/api/users/7`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Kept Across Restarts' }),
        })
        expect(put.status).toBe(200)
        expect(await first.stop('SIGINT')).toEqual({ code: 0, signal: null })
        expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true)
        expect(existsSync(`${dir}.lock`)).toBe(false)

        const second = new ServeProcess([], { REDIS_URL: plain.url, PORT: '0', XDG_DATA_HOME: home })
        serves.push(second)
        const [, again] = await second.waitFor(LISTENING)
        await second.waitFor(/embedded PGlite .*open in [\d.]+ s/, 60_000)
        expect(existsSync(`${dir}.lock`)).toBe(true)
        // A second service on the same directory is refused (PGlite serves one process), and says what to do.
        const third = new ServeProcess([], { REDIS_URL: plain.url, PORT: '0', XDG_DATA_HOME: home })
        serves.push(third)
        const [, other] = await third.waitFor(LISTENING)
        await third.waitFor(/database: cannot open it/)
        expect(third.stdout).toContain(`is in use by process ${second.child.pid}`)
        const refused = await fetch(`${other}/api/users/7`)
        expect(refused.status).toBe(503)
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('E_DB_UNAVAILABLE')
        expect(await third.stop('SIGINT')).toEqual({ code: 0, signal: null })
        expect(existsSync(`${dir}.lock`)).toBe(true)
        // The cache entry was deleted by the PUT: this read is the database's, across the restart.
        expect(((await (await fetch(`${again}/api/users/7`)).json()) as { name: string }).name).toBe('Kept Across Restarts')
        expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null })
      } finally {
        rmSync(home, { recursive: true, force: true })
      }
    })

    it('exits 1 naming how to install redis-server when it is needed but missing', async () => {
      const unused = await findFreePort()
      const result = await runCli(['serve'], {
        PORT: '0',
        REDKIT_DEFAULT_REDIS_PORT: String(unused),
        REDKIT_REDIS_SERVER: '/nonexistent/redis-server',
      })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('redis-server was not found')
      expect(result.stderr).toContain('apt-get install -y redis-server')
      expect(result.stderr).not.toMatch(/^\s+at /m)
    })

    it('exits 1 with a clear message for an invalid PORT', async () => {
      const result = await runCli(['serve'], { PORT: 'abc', REDIS_URL: plain.url })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("PORT must be a port number (0-65535), got 'abc'")
    })
  })
})
