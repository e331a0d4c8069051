import { performance } from 'node:perf_hooks'
import * as hdr from 'hdr-histogram-js'

/** One operation of a closed-loop load: `seq` counts all calls, `worker` is the caller's index. */
export type LoadOp = (seq: number, worker: number) => Promise<unknown>

export interface LoadOptions {
  /** Number of concurrent callers, each awaiting `op` in a loop. */
  concurrency: number
  /** Measure for this long (ms). Either `durationMs` or `ops` (or both: whichever ends first). */
  durationMs?: number
  /** Measure this many completed operations. */
  ops?: number
  /** Run (unmeasured) for this long first, without a gap before the measurement. @defaultValue 0 */
  warmupMs?: number
  /** Stops the load early (the result covers what was measured so far). */
  signal?: AbortSignal
  /** Count failed operations instead of stopping at the first one (which is rethrown). @defaultValue false */
  tolerateErrors?: boolean
}

export interface LatencySummary {
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

export interface LoadResult {
  /** Operations completed (successfully) inside the measurement window. */
  ops: number
  errors: number
  /** Length of the measurement window (ms). */
  elapsedMs: number
  opsPerSec: number
  /** Latencies of the measured operations, in ms. */
  latencyMs: LatencySummary
  /** The raw histogram, in microseconds (merge slices with `histogram.add(other)`). */
  histogram: hdr.Histogram
  /**
   * This process's CPU time (user + system) per operation completed from the start of the
   * measurement to the end of the load, in microseconds: what an operation costs the client,
   * which the machine's other load moves much less than it moves throughput.
   */
  cpuUsPerOp: number
  /** Every operation that completed, warm-up included (to divide a cost measured around the whole load). */
  totalOps: number
}

export function createLatencyHistogram(): hdr.Histogram {
  // Microseconds, 1 µs .. 60 s, 3 significant digits; JS implementation (no WASM init needed).
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
}

/** p50/p90/p99/max/mean in ms of a histogram recorded in microseconds. */
export function summarize(histogram: hdr.Histogram): LatencySummary {
  if (histogram.totalCount === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN }
  return {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p90: histogram.getValueAtPercentile(90) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    max: histogram.maxValue / 1000,
    mean: histogram.mean / 1000,
  }
}

/**
 * Closed-loop load: `concurrency` callers each await `op` in a loop, so the offered load adapts to
 * the system (no coordinated-omission correction: this measures throughput at a fixed
 * concurrency, and the latency each caller saw). Throughput counts the operations that complete
 * inside the measurement window; latency is recorded for the same operations.
 */
export async function closedLoop(op: LoadOp, options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs, ops: opsLimit, warmupMs = 0, signal, tolerateErrors = false } = options
  if (!(concurrency >= 1)) throw new Error('closedLoop: concurrency must be >= 1')
  if (durationMs === undefined && opsLimit === undefined) throw new Error('closedLoop: give durationMs or ops')

  const histogram = createLatencyHistogram()
  const begin = performance.now()
  const measureStart = begin + warmupMs
  const deadline = durationMs === undefined ? Number.POSITIVE_INFINITY : measureStart + durationMs
  let seq = 0
  let issued = 0 // measured-phase operations started (bounded by opsLimit)
  let completed = 0
  let errors = 0
  let firstError: unknown
  let stopped = false
  let lastEnd = measureStart
  let total = 0
  // CPU and completions at the start of the measurement (a timer: the workers never yield to one
  // another for long), then at the end: the cost of the operations in between.
  let cpuAtStart = warmupMs > 0 ? undefined : process.cpuUsage()
  let totalAtStart = 0
  const cpuTimer =
    warmupMs > 0
      ? setTimeout(() => {
          cpuAtStart = process.cpuUsage()
          totalAtStart = total
        }, warmupMs)
      : undefined

  const worker = async (index: number) => {
    let start = performance.now()
    while (!stopped && !signal?.aborted && start < deadline) {
      if (opsLimit !== undefined && start >= measureStart) {
        if (issued >= opsLimit) return
        issued++
      }
      try {
        await op(seq++, index)
      } catch (error) {
        errors++
        if (firstError === undefined) firstError = error
        if (!tolerateErrors) {
          stopped = true
          return
        }
        start = performance.now()
        continue
      }
      const end = performance.now()
      total++
      if (end >= measureStart && end <= deadline) {
        completed++
        histogram.recordValue(Math.max(1, Math.round((end - start) * 1000)))
        if (end > lastEnd) lastEnd = end
      }
      start = end
    }
  }

  const workers = Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)))
  if (signal) {
    // On abort, return at once: an operation may never settle (e.g. the server was killed by the
    // same Ctrl-C and the client waits to reconnect). The caller then destroys its clients.
    let onAbort = () => {}
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => resolve()
      if (signal.aborted) resolve()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    await Promise.race([workers, aborted])
    signal.removeEventListener('abort', onAbort)
    stopped = true
  } else {
    await workers
  }
  clearTimeout(cpuTimer)
  const cpu = process.cpuUsage(cpuAtStart)
  if (firstError !== undefined && !tolerateErrors) throw firstError

  const measuredOps = cpuAtStart === undefined ? 0 : total - totalAtStart
  const windowEnd = Number.isFinite(deadline) && !signal?.aborted && opsLimit === undefined ? deadline : lastEnd
  const elapsedMs = Math.max(windowEnd - measureStart, 1e-3)
  return {
    ops: completed,
    errors,
    elapsedMs,
    opsPerSec: (completed * 1000) / elapsedMs,
    latencyMs: summarize(histogram),
    histogram,
    cpuUsPerOp: measuredOps > 0 ? (cpu.user + cpu.system) / measuredOps : Number.NaN,
    totalOps: total,
  }
}
