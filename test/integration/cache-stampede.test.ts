import { type ChildProcess, spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedkit } from '../../src/index.js'
import { PROCESS_TOPOLOGIES } from '../support/expect.js'
import { testPrefix } from '../support/redis.js'

const ROOT = new URL('../..', import.meta.url).pathname
const PROCESSES = 4
const CALLS = 250

interface Child {
  process: ChildProcess
  output: Promise<string>
}

/** Starts the fixture with stdin open (the start signal) and resolves once it printed `ready`. */
function startFixture(env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/cache-stampede.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const output = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`fixture exited with ${code}: ${err.slice(-2000)}`))))
  })
  output.catch(() => {})
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture not ready: ${err.slice(-2000)}`)), 20_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.startsWith('ready\n')) {
        clearTimeout(timer)
        out = out.slice('ready\n'.length)
        resolve({ process: child, output })
      }
    })
    output.catch((error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

describe.each(PROCESS_TOPOLOGIES)('cache stampede across processes on %s', (topology, options, env) => {
  const children: Child[] = []
  afterEach(() => {
    for (const child of children.splice(0)) child.process.kill('SIGKILL')
  })

  async function run(stampede: 'local' | 'distributed') {
    const prefix = testPrefix()
    const e = { ...env(), REDKIT_PREFIX: prefix, CACHE_NAME: 'products', CALLS: String(CALLS), STAMPEDE: stampede }
    children.push(...(await Promise.all(Array.from({ length: PROCESSES }, () => startFixture(e)))))
    for (const child of children) child.process.stdin?.write('go\n')
    const outputs = await Promise.all(children.map((child) => child.output))
    const results = outputs.map(
      (text) => JSON.parse(text.trim().split('\n').pop() as string) as { values: string[]; ms: number; hits: number; coalesced: number },
    )
    const rk = await createRedkit({ ...options(), prefix })
    const counter = `${prefix}:loader-calls`
    const loaderCalls = Number(await rk.connection.send(['GET', counter], { key: counter }))
    await rk.close()
    const sum = (field: 'hits' | 'coalesced') => results.reduce((total, r) => total + r[field], 0)
    return {
      loaderCalls,
      values: results.flatMap((r) => r.values),
      slowestMs: Math.max(...results.map((r) => r.ms)),
      hits: sum('hits'),
      coalesced: sum('coalesced'),
    }
  }

  it(`${PROCESSES * CALLS} concurrent getOrLoad calls on a cold key from ${PROCESSES} processes run the loader once`, async () => {
    const { loaderCalls, values, slowestMs, hits, coalesced } = await run('distributed')
    expect(values).toHaveLength(PROCESSES * CALLS)
    expect(loaderCalls).toBe(1)
    // stats.coalesced: every call that neither hit nor ran the loader was answered by the one load.
    expect(coalesced).toBeGreaterThan(0)
    expect(hits + coalesced + loaderCalls).toBe(PROCESSES * CALLS)
    // Everyone got the one loaded value.
    expect(new Set(values).size).toBe(1)
    // The waiters were woken by the fill message: 300 ms of loading plus delivery, not a lock TTL.
    expect(slowestMs).toBeLessThan(3000)
  }, 60_000)

  it.runIf(topology === 'standalone')(
    'with stampede: local, each process loads once (the in-process single flight only)',
    async () => {
      const { loaderCalls, values, hits, coalesced } = await run('local')
      expect(values).toHaveLength(PROCESSES * CALLS)
      expect(loaderCalls).toBe(PROCESSES)
      expect(hits + coalesced + loaderCalls).toBe(PROCESSES * CALLS)
    },
    60_000,
  )
})
