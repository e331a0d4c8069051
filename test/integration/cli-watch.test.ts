import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisProcess, startRedisServer } from '../../packages/server/src/redis-process.js'
import { createRedkit } from '../../src/index.js'
import { closeAll, clusterUrls, type RawClient, rawClient, rawCluster, testPrefix } from '../support/redis.js'

// `redkit watch` runs as a child process, the way operators run it, against throwaway servers of
// this file (never the shared one, never 6379).
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.REDIS_URL
  return env
}

class Watch {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  /**
   * `via: 'npx'` runs `npx tsx src/cli/main.ts watch ...`. `via: 'node'` runs `node --import tsx ...`:
   * npm exec re-raises a SIGINT it received on itself, so the CLI's own exit code after Ctrl-C is only
   * observable without npx.
   */
  constructor(args: string[], via: 'npx' | 'node' = 'npx') {
    const [command, prefix] =
      via === 'npx' ? ['npx', ['tsx', 'src/cli/main.ts', 'watch']] : [process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'watch']]
    // Its own process group, so that ctrlC() can signal the group as a terminal's Ctrl-C does.
    this.child = spawn(command, [...prefix, ...args], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk
    })
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk
    })
    this.closed = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal })))
  }

  async waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = pattern.exec(this[stream])
      if (match) return match
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${pattern} on ${stream} (exit ${this.child.exitCode})\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Waits until the subscription is live (the CLI says so on stderr once subscribed). */
  ready(): Promise<RegExpExecArray> {
    return this.waitFor('stderr', /watching \w+ expirations/)
  }

  /** SIGINT to the whole process group (npx and the CLI under it), as Ctrl-C in a terminal. */
  ctrlC(): void {
    if (this.child.pid !== undefined && this.child.exitCode === null) process.kill(-this.child.pid, 'SIGINT')
  }

  kill(): void {
    if (this.child.pid === undefined || this.child.exitCode !== null) return
    try {
      process.kill(-this.child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

describe('redkit watch', () => {
  let server: RedisProcess
  let raw: RawClient
  const running: Watch[] = []
  const watch = (args: string[], via: 'npx' | 'node' = 'npx') => {
    const w = new Watch(args, via)
    running.push(w)
    return w
  }

  beforeAll(async () => {
    server = await startRedisServer()
    raw = await rawClient(server.url)
  })
  afterAll(async () => {
    for (const w of running) w.kill()
    await closeAll(raw)
    await server?.stop()
  })

  it('prints one line per native expiration of a matching key', async () => {
    const w = watch(['watch:*', '--redis-url', server.url])
    await w.ready()
    await raw.sendCommand(['SET', 'other:1', 'v', 'PX', '100'])
    await raw.sendCommand(['SET', 'watch:1', 'v', 'PX', '100'])
    const [line] = await w.waitFor('stdout', /^.*expired.*$/m)
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}expired {2}watch:1$/)
    await raw.sendCommand(['SET', 'watch:two words', 'v', 'PX', '50'])
    await w.waitFor('stdout', /expired {2}"watch:two words"/)
    expect(w.stdout).not.toContain('other:1')
    expect(w.stdout.trim().split('\n')).toHaveLength(2)
    w.ctrlC()
    await w.closed
  })

  it('--cluster watches every master of the test cluster', async () => {
    const prefix = testPrefix()
    const w = watch([`${prefix}:*`, '--cluster', '--redis-url', clusterUrls().join(',')], 'node')
    await w.ready()
    const cluster = await rawCluster()
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`)
      // 30 keys land on all three masters (a key's slot picks its master).
      await Promise.all(keys.map((key) => cluster.sendCommand(key, false, ['SET', key, 'v', 'PX', '50'])))
      for (const key of keys) await w.waitFor('stdout', new RegExp(`expired {2}${key}$`, 'm'), 5000)
    } finally {
      await closeAll(cluster)
    }
    w.ctrlC()
    expect((await w.closed).code).toBe(0)
  })

  it('--reliable --json prints JSON lines with the lateness, and Ctrl-C exits 0', async () => {
    const w = watch(['app:*', '--reliable', '--prefix', 'clitest', '--redis-url', server.url, '--json'], 'node')
    const [, group] = await w.waitFor('stderr', /\(group (watch-[^)]+-\d+)\)/)
    expect(group).toBe(`watch-${(await import('node:os')).hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${w.child.pid}`)
    const rk = await createRedkit({ url: server.url, prefix: 'clitest' })
    try {
      const deadline = await rk.expirations.set('app:session:1', { user: 1 }, { ttlMs: 100 })
      const [line] = await w.waitFor('stdout', /^\{.*\}$/m)
      const event = JSON.parse(line)
      expect(event).toMatchObject({ key: 'app:session:1', mode: 'reliable', attempt: 1 })
      // (Reliable mode may move a deadline by 1 ms at sweep time; see the events issue.)
      expect(Math.abs(event.deadline - deadline)).toBeLessThanOrEqual(1)
      expect(event.id).toBe(`app:session:1@${event.deadline}`)
      expect(typeof event.lateMs).toBe('number')
      expect(event.time).toBe(new Date(event.firedAt).toISOString())
    } finally {
      await rk.close()
    }
    w.ctrlC()
    expect(await w.closed).toEqual({ code: 0, signal: null })
  })

  it('native mode: Ctrl-C closes cleanly with exit 0', async () => {
    const w = watch(['*', '--redis-url', server.url], 'node')
    await w.ready()
    const started = Date.now()
    w.ctrlC()
    expect(await w.closed).toEqual({ code: 0, signal: null })
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('fails with exit 1 and names notify-keyspace-events when CONFIG is disabled', async () => {
    const locked = await startRedisServer({ args: ['--rename-command', 'CONFIG', ''] })
    try {
      const w = watch(['*', '--redis-url', locked.url], 'node')
      const { code } = await w.closed
      expect(code).toBe(1)
      expect(w.stderr).toMatch(/^redkit watch: E_SERVER_CONFIG: .*notify-keyspace-events/m)
      expect(w.stdout).toBe('')
    } finally {
      await locked.stop()
    }
  })

  it('rejects a bad pattern and --group without --reliable with exit 1', async () => {
    const bad = watch(['a[b', '--redis-url', server.url], 'node')
    expect((await bad.closed).code).toBe(1)
    expect(bad.stderr).toMatch(/E_INVALID_ARGUMENT: pattern "a\[b"/)
    const group = watch(['a:*', '--group', 'g', '--redis-url', server.url], 'node')
    expect((await group.closed).code).toBe(1)
    expect(group.stderr).toContain('--group needs --reliable')
  })
})
