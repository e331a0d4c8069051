/**
 * The contract between the harness (`bench/run.ts`) and the benchmarks (`bench/<name>.bench.ts`).
 */

/** One figure measured by a benchmark. */
export interface BenchResult {
  /** What was measured, e.g. `node-redis GET (timeout 0)`, `BullMQ`, `redkit queue`. */
  subject: string
  /** The kind of figure, e.g. `ops/s`, `p50`, `p99`, `max`, `ops/s ratio`. */
  metric: string
  value: number
  /** `ops/s`, `ms`, `x` (a ratio), `B`, ... */
  unit: string
  /** Whatever fixes the conditions: concurrency, value size, slice length, baseline... */
  params?: Record<string, unknown>
  /** Set on per-slice figures (the round number, from 0); absent on summary figures (medians, ratios). */
  slice?: number
}

/** One line of `bench/results/<name>-<timestamp>.jsonl`. */
export interface ResultLine {
  bench: string
  subject: string
  metric: string
  value: number
  unit: string
  params: Record<string, unknown>
  slice?: number
  /** ISO time the figure was recorded. */
  at: string
}

export interface BenchContext {
  /** URL of the throwaway redis-server the harness started for this run (empty, no persistence). */
  readonly redisUrl: string
  readonly redisPort: number
  /** `--quick`: run much shorter (smoke test of the benchmark, figures are indicative only). */
  readonly quick: boolean
  /** Aborted on Ctrl-C / SIGTERM: stop loads and child processes, then return. */
  readonly signal: AbortSignal
  /** Records a figure: appended to the JSON-lines file at once and shown in the final table. */
  record(result: BenchResult): void
  /** Progress message (stderr, so stdout stays the table or the JSON lines). */
  log(message: string): void
}

export interface Benchmark {
  /** Must match the file name: `bench/<name>.bench.ts`. */
  name: string
  description: string
  run(ctx: BenchContext): Promise<void>
}

/** Identity helper that gives a benchmark module's default export its type. */
export function defineBenchmark(benchmark: Benchmark): Benchmark {
  return benchmark
}
