import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedkit, type Redkit } from '../../src/index.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env }
    delete env.REDIS_URL
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('redkit queue <name> stats|retry|drain', () => {
  let rk: Redkit
  let prefix: string

  beforeAll(async () => {
    prefix = testPrefix()
    rk = await createRedkit({ url: standaloneUrl(), prefix })
    const queue = rk.queue<number>('mail')
    await queue.addBulk([1, 2, 3].map((data) => ({ data })))
    await queue.add(4, { delayMs: 60_000 })
    await queue.add(5, { jobId: 'poison', attempts: 1 })
    const worker = rk.worker<number>('mail', (job) => {
      if (job.id === 'poison') throw new Error('smtp said no')
      return 'sent'
    })
    await new Promise<void>((resolve) => worker.on('dead', () => resolve()))
    await queue.pause()
    await worker.close()
  })
  afterAll(() => rk?.close())

  const base = () => ['--redis-url', standaloneUrl(), '--prefix', prefix]

  it('prints counts and the oldest dead letters with their error', async () => {
    const { code, stdout } = await runCli(['queue', 'mail', 'stats', ...base()])
    expect(code).toBe(0)
    expect(stdout).toMatch(/waiting\s+0/)
    expect(stdout).toMatch(/delayed\s+1/)
    expect(stdout).toMatch(/completed\s+3/)
    expect(stdout).toMatch(/dead\s+1/)
    expect(stdout).toMatch(/paused\s+yes/)
    expect(stdout).toContain('poison')
    expect(stdout).toContain('smtp said no')
    const json = await runCli(['queue', 'mail', 'stats', ...base(), '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ queue: 'mail', dead: 1, deadLetters: [{ id: 'poison', error: 'smtp said no' }] })
  })

  it('retries dead letters and drains waiting jobs', async () => {
    const retry = await runCli(['queue', 'mail', 'retry', ...base()])
    expect(retry.code).toBe(0)
    expect(retry.stdout).toContain('1 dead letter moved back')
    expect((await rk.queue('mail').counts()).waiting).toBe(1)
    const drain = await runCli(['queue', 'mail', 'drain', ...base(), '--delayed', '--json'])
    expect(JSON.parse(drain.stdout)).toEqual({ queue: 'mail', drained: 2 })
    expect(await rk.queue('mail').counts()).toMatchObject({ waiting: 0, delayed: 0, completed: 3 })
  })

  it('fails with a one-line error and exit code 1', async () => {
    const bad = await runCli(['queue', 'a{b}', 'stats', ...base()])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^redkit queue: E_INVALID_KEY: /)
    const usage = await runCli(['queue', 'mail', 'explode', ...base()])
    expect(usage.code).not.toBe(0)
    const down = await runCli(['queue', 'mail', 'stats', '--redis-url', 'redis://:hunter2@127.0.0.1:1', '--timeout', '300'])
    expect(down.code).toBe(1)
    expect(down.stderr).toContain('E_CONNECTION')
    expect(down.stderr).not.toContain('hunter2')
  })
})
