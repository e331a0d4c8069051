import { spawn } from 'node:child_process'

/** One row of `redis-benchmark --csv` output (latencies in ms; NaN where the version does not report them). */
export interface RedisBenchmarkRow {
  test: string
  rps: number
  avgMs: number
  minMs: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  maxMs: number
}

export interface RedisBenchmarkOptions {
  host?: string
  port: number
  /** `-t`, e.g. ['get', 'set']. */
  tests: string[]
  /** `-c` @defaultValue 50 */
  clients?: number
  /** `-n` */
  requests: number
  /** `-d` (value size in bytes) @defaultValue 3 */
  dataSize?: number
  /** `-P` @defaultValue 1 (no pipelining) */
  pipeline?: number
  /** More raw arguments. */
  extraArgs?: string[]
  signal?: AbortSignal
  /** @defaultValue process.env.REDKIT_REDIS_BENCHMARK ?? 'redis-benchmark' */
  binary?: string
}

const binaryOf = (binary?: string) => binary ?? process.env.REDKIT_REDIS_BENCHMARK ?? 'redis-benchmark'

/** The arguments passed to redis-benchmark (for logs and recorded params). */
export function redisBenchmarkArgs(options: RedisBenchmarkOptions): string[] {
  const args = ['-h', options.host ?? '127.0.0.1', '-p', String(options.port), '-t', options.tests.join(',')]
  args.push('-c', String(options.clients ?? 50), '-n', String(options.requests), '-d', String(options.dataSize ?? 3))
  if ((options.pipeline ?? 1) > 1) args.push('-P', String(options.pipeline))
  args.push('--csv', '-q', ...(options.extraArgs ?? []))
  return args
}

/** Parses `redis-benchmark --csv` output: a header line (Redis >= 7) and one quoted row per test. */
export function parseRedisBenchmarkCsv(output: string): RedisBenchmarkRow[] {
  const lines = output
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('"'))
  const cells = (line: string) => line.split(',').map((c) => c.trim().replace(/^"|"$/g, ''))
  let header = ['test', 'rps'] // Redis 6 prints no header and only these two columns
  const rows: RedisBenchmarkRow[] = []
  for (const line of lines) {
    const row = cells(line)
    if (row[0] === 'test') {
      header = row
      continue
    }
    const get = (name: string) => {
      const i = header.indexOf(name)
      return i < 0 || row[i] === undefined ? Number.NaN : Number(row[i])
    }
    rows.push({
      test: row[0] ?? '',
      rps: get('rps'),
      avgMs: get('avg_latency_ms'),
      minMs: get('min_latency_ms'),
      p50Ms: get('p50_latency_ms'),
      p95Ms: get('p95_latency_ms'),
      p99Ms: get('p99_latency_ms'),
      maxMs: get('max_latency_ms'),
    })
  }
  return rows
}

/** True when the redis-benchmark binary runs (Debian: package redis-tools). */
export function hasRedisBenchmark(binary?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(binaryOf(binary), ['--version'], { stdio: 'ignore' })
    child.once('error', () => resolve(false))
    child.once('exit', (code) => resolve(code === 0))
  })
}

/** Runs redis-benchmark to completion and returns its parsed CSV rows. Killed when `signal` aborts. */
export function runRedisBenchmark(options: RedisBenchmarkOptions): Promise<RedisBenchmarkRow[]> {
  const args = redisBenchmarkArgs(options)
  return new Promise((resolve, reject) => {
    const child = spawn(binaryOf(options.binary), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error('redis-benchmark was not found (Debian/Ubuntu: `sudo apt-get install -y redis-tools`)', { cause: error })
          : error,
      )
    })
    child.once('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`redis-benchmark ${args.join(' ')} exited with ${code ?? signal}: ${(stderr || stdout).slice(-500)}`))
        return
      }
      const rows = parseRedisBenchmarkCsv(stdout)
      if (rows.length === 0) reject(new Error(`redis-benchmark printed no CSV rows: ${(stdout + stderr).slice(-500)}`))
      else resolve(rows)
    })
  })
}
