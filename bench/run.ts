/**
 * Benchmark harness: `npm run bench -- <name...> [--quick] [--json-only]`, `npm run bench -- --list`.
 *
 * For each benchmark `bench/<name>.bench.ts` it starts a throwaway redis-server (no persistence),
 * runs the benchmark against it, stops it (also on Ctrl-C and errors), prints a table of the
 * results and appends them as JSON lines to `bench/results/<name>-<timestamp>.jsonl`.
 * Progress goes to stderr; stdout carries only the table (or, with --json-only, the JSON lines).
 */
import { readdir } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createClient } from 'redis'
import { type RedisProcess, startRedisServer } from '../packages/server/src/redis-process.js'
import { ResultsFile } from './lib/results.js'
import { resultsTable } from './lib/table.js'
import type { BenchContext, Benchmark } from './lib/types.js'

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
const SUFFIX = '.bench.ts'

interface Args {
  names: string[]
  quick: boolean
  jsonOnly: boolean
  list: boolean
  help: boolean
}

const USAGE = `usage: npm run bench -- <name...> [--quick] [--json-only]
       npm run bench -- --list

  --quick       much shorter runs (smoke test; figures are indicative only)
  --json-only   print the JSON lines on stdout instead of the table
  --list        list the benchmarks
Results are appended to bench/results/<name>-<timestamp>.jsonl.`

function parseArgs(argv: string[]): Args {
  const args: Args = { names: [], quick: false, jsonOnly: false, list: false, help: false }
  for (const arg of argv) {
    if (arg === '--quick') args.quick = true
    else if (arg === '--json-only') args.jsonOnly = true
    else if (arg === '--list') args.list = true
    else if (arg === '--help' || arg === '-h') args.help = true
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`)
    else args.names.push(arg)
  }
  return args
}

class UsageError extends Error {}

async function benchmarkNames(): Promise<string[]> {
  const files = await readdir(BENCH_DIR)
  return files
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort()
}

async function loadBenchmark(name: string): Promise<Benchmark> {
  const mod = (await import(pathToFileURL(path.join(BENCH_DIR, `${name}${SUFFIX}`)).href)) as { default?: Partial<Benchmark> }
  const bench = mod.default
  if (!bench || typeof bench.run !== 'function' || typeof bench.name !== 'string') {
    throw new Error(`bench/${name}${SUFFIX} must export default a Benchmark { name, description, run(ctx) }`)
  }
  if (bench.name !== name) throw new Error(`bench/${name}${SUFFIX} exports a benchmark named '${bench.name}'`)
  return bench as Benchmark
}

async function redisVersion(url: string): Promise<string> {
  const client = createClient({ url, commandOptions: { timeout: 0 } })
  client.on('error', () => {})
  try {
    await client.connect()
    const info = await client.info('server')
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
  } finally {
    client.destroy()
  }
}

/** Ctrl-C / SIGTERM: the first aborts the run (the benchmark stops, the server is stopped); the second exits at once. */
function onInterrupt(abort: AbortController, getServer: () => RedisProcess | undefined): () => void {
  let count = 0
  const handler = (signal: NodeJS.Signals) => {
    count++
    if (count === 1) {
      process.stderr.write(`\n${signal}: stopping the benchmark (again to force)...\n`)
      abort.abort(new Error(`interrupted by ${signal}`))
      return
    }
    const server = getServer()
    void (server ? server.stop() : Promise.resolve()).finally(() => process.exit(130))
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}

async function runOne(
  name: string,
  args: Args,
  abort: AbortController,
  setServer: (s: RedisProcess | undefined) => void,
): Promise<boolean> {
  const bench = await loadBenchmark(name)
  const startedAt = new Date()
  const t0 = performance.now()
  const log = (message: string) => process.stderr.write(`[${name} +${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}\n`)

  // startRedisServer already disables persistence; said again here because the figures depend on it.
  const server = await startRedisServer({ args: ['--save', '', '--appendonly', 'no'] })
  setServer(server)
  let ok = true
  let results: ResultsFile | undefined
  try {
    const version = await redisVersion(server.url)
    const cpus = os.cpus()
    const header = [
      `benchmark  ${bench.name}: ${bench.description}`,
      `date       ${startedAt.toISOString()}${args.quick ? '  (--quick: indicative figures only)' : ''}`,
      `machine    ${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`,
      `software   Node ${process.version}, Redis ${version} (throwaway server on port ${server.port}, no persistence)`,
    ].join('\n')
    log(`redis-server ${version} on ${server.url}`)
    results = new ResultsFile(name, undefined, startedAt)
    const file = results
    const ctx: BenchContext = {
      redisUrl: server.url,
      redisPort: server.port,
      quick: args.quick,
      signal: abort.signal,
      record: (result) => {
        const line = file.write(result)
        if (args.jsonOnly) process.stdout.write(`${JSON.stringify(line)}\n`)
      },
      log,
    }
    try {
      await bench.run(ctx)
      if (abort.signal.aborted) {
        ok = false
        log('interrupted: partial results')
      }
    } catch (error) {
      ok = false
      log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    }
    if (!args.jsonOnly) {
      process.stdout.write(`\n${header}\n\n${results.lines.length > 0 ? resultsTable(results.lines) : '(no results)'}\n\n`)
    }
    log(`${results.lines.length} results in ${path.relative(process.cwd(), results.path)}`)
  } finally {
    await server.stop()
    setServer(undefined)
  }
  return ok
}

async function main(): Promise<number> {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`)
    return 2
  }
  const available = await benchmarkNames()
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (args.list) {
    for (const name of available) {
      const bench = await loadBenchmark(name)
      process.stdout.write(`${name.padEnd(16)} ${bench.description}\n`)
    }
    return 0
  }
  if (args.names.length === 0) {
    process.stderr.write(`${USAGE}\n\nbenchmarks: ${available.join(', ') || '(none)'}\n`)
    return 2
  }
  const unknown = args.names.filter((n) => !available.includes(n))
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}\n`)
    return 2
  }

  const abort = new AbortController()
  let server: RedisProcess | undefined
  const removeHandlers = onInterrupt(abort, () => server)
  let ok = true
  try {
    for (const name of args.names) {
      if (abort.signal.aborted) break
      ok = (await runOne(name, args, abort, (s) => (server = s))) && ok
    }
  } finally {
    removeHandlers()
  }
  return abort.signal.aborted ? 130 : ok ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
    // Safety net: a benchmark that leaks a socket or timer must not hang the run. Unref'd, so it
    // only fires when something else keeps the process alive.
    setTimeout(() => {
      process.stderr.write(`bench: handles still open after the run (${process.getActiveResourcesInfo().join(', ')}); exiting\n`)
      process.exit(code)
    }, 5000).unref()
  },
  (error) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
