import { closedLoop } from './load.js'
import { median, spread } from './stats.js'
import { formatValue } from './table.js'
import type { BenchContext } from './types.js'

/** The figures of one slice, e.g. `{ 'ops/s': 201_345, p50: 0.41, p99: 1.2 }`. */
export type Figures = Record<string, number>

export interface InterleaveSubject {
  name: string
  /** Runs one slice (`round` is -1 for the unrecorded warm-up slice) and returns its figures. */
  slice(round: number): Promise<Figures>
  /** Extra params recorded with this subject's figures (client, options...). */
  params?: Record<string, unknown>
}

export interface InterleaveOptions {
  /** Rounds; each round runs every subject once. Use an even number so each subject leads equally often. */
  rounds: number
  /** Run every subject once first, unrecorded (JIT, connections, server caches). @defaultValue true */
  warmup?: boolean
  /** Subject the ratios are computed against. @defaultValue the first subject */
  baseline?: string
  /** Metrics to compute ratios for. @defaultValue the first metric the baseline reports */
  ratioOf?: string[]
  signal?: AbortSignal
  /** Called after each recorded slice (progress logging). */
  onSlice?(slice: SliceFigures): void
}

export interface SliceFigures {
  subject: string
  round: number
  /** Position of the slice in the whole run (0, 1, 2, ...). */
  position: number
  figures: Figures
}

export interface SubjectSummary {
  name: string
  params: Record<string, unknown>
  /** Figures of each round, in round order. */
  slices: Figures[]
  /** Per-metric median over the slices. */
  median: Figures
  /** Per-metric spread over the slices: (max - min) / median. */
  spread: Figures
}

export interface Ratio {
  subject: string
  baseline: string
  metric: string
  /** subject / baseline for each round (both measured in the same round, next to each other). */
  perRound: number[]
  median: number
}

export interface InterleaveResult {
  baseline: string
  slices: SliceFigures[]
  subjects: SubjectSummary[]
  ratios: Ratio[]
}

/**
 * Runs the subjects in interleaved slices: round 0 in order (A, B, C), round 1 reversed
 * (C, B, A), and so on, so two subjects give A,B,B,A,A,B,B,A. Drift of the machine (thermal,
 * neighbours, GC) then hits every subject alike, and each ratio is taken between slices that ran
 * next to each other in the same round; the reported ratio is the median of the per-round ratios.
 */
export async function interleave(subjects: InterleaveSubject[], options: InterleaveOptions): Promise<InterleaveResult> {
  if (subjects.length === 0) throw new Error('interleave: no subjects')
  const names = new Set(subjects.map((s) => s.name))
  if (names.size !== subjects.length) throw new Error('interleave: subject names must be unique')
  const baseline = options.baseline ?? subjects[0]!.name
  if (!names.has(baseline)) throw new Error(`interleave: unknown baseline ${baseline}`)
  const { signal } = options

  if (options.warmup ?? true) {
    for (const subject of subjects) {
      if (signal?.aborted) break
      await subject.slice(-1)
    }
  }

  const slices: SliceFigures[] = []
  const perSubject = new Map<string, Figures[]>(subjects.map((s) => [s.name, []]))
  let position = 0
  for (let round = 0; round < options.rounds && !signal?.aborted; round++) {
    const order = round % 2 === 0 ? subjects : [...subjects].reverse()
    for (const subject of order) {
      if (signal?.aborted) break
      const figures = await subject.slice(round)
      const slice = { subject: subject.name, round, position: position++, figures }
      slices.push(slice)
      perSubject.get(subject.name)!.push(figures)
      options.onSlice?.(slice)
    }
  }

  const summaries: SubjectSummary[] = subjects.map((subject) => {
    const figures = perSubject.get(subject.name)!
    const metrics = [...new Set(figures.flatMap((f) => Object.keys(f)))]
    return {
      name: subject.name,
      params: subject.params ?? {},
      slices: figures,
      median: Object.fromEntries(metrics.map((m) => [m, median(figures.map((f) => f[m] ?? Number.NaN))])),
      spread: Object.fromEntries(metrics.map((m) => [m, spread(figures.map((f) => f[m] ?? Number.NaN))])),
    }
  })

  // Ratios from rounds where both the subject and the baseline completed a slice.
  const baseSlices = perSubject.get(baseline)!
  const ratioOf = options.ratioOf ?? Object.keys(baseSlices[0] ?? {}).slice(0, 1)
  const ratios: Ratio[] = []
  for (const subject of subjects) {
    if (subject.name === baseline) continue
    const own = perSubject.get(subject.name)!
    for (const metric of ratioOf) {
      const perRound: number[] = []
      for (let round = 0; round < Math.min(own.length, baseSlices.length); round++) {
        const a = own[round]?.[metric]
        const b = baseSlices[round]?.[metric]
        if (a !== undefined && b !== undefined && b !== 0) perRound.push(a / b)
      }
      ratios.push({ subject: subject.name, baseline, metric, perRound, median: median(perRound) })
    }
  }
  return { baseline, slices, subjects: summaries, ratios }
}

export interface RecordInterleaveOptions {
  /** Unit of each metric (by name), or a function; unknown metrics get ''. */
  units: Record<string, string> | ((metric: string) => string)
  /** Params recorded with every figure (concurrency, sizes, slice length...). */
  params?: Record<string, unknown>
  /** Maps a subject + metric to the row recorded (e.g. to split `GET ops/s` into subject `... GET`, metric `ops/s`). */
  rowOf?: (subject: string, metric: string) => { subject: string; metric: string }
}

/**
 * Records an interleave result through `ctx.record`: every slice's figures (with `slice` = round),
 * then per subject the medians (params.stat = 'median', params.spread) and the ratios against the
 * baseline (metric `<metric> ratio`, unit `x`, params.baseline, params.perRound).
 */
export function recordInterleave(ctx: BenchContext, result: InterleaveResult, options: RecordInterleaveOptions): void {
  const unitOf = typeof options.units === 'function' ? options.units : (m: string) => (options.units as Record<string, string>)[m] ?? ''
  const rowOf = options.rowOf ?? ((subject: string, metric: string) => ({ subject, metric }))
  const params = options.params ?? {}
  const subjectParams = new Map(result.subjects.map((s) => [s.name, s.params]))

  for (const slice of result.slices) {
    for (const [metric, value] of Object.entries(slice.figures)) {
      const row = rowOf(slice.subject, metric)
      ctx.record({
        ...row,
        value,
        unit: unitOf(metric),
        params: { ...params, ...subjectParams.get(slice.subject), position: slice.position },
        slice: slice.round,
      })
    }
  }
  for (const subject of result.subjects) {
    for (const [metric, value] of Object.entries(subject.median)) {
      ctx.record({
        ...rowOf(subject.name, metric),
        value,
        unit: unitOf(metric),
        params: { ...params, ...subject.params, stat: 'median', slices: subject.slices.length, spread: round3(subject.spread[metric]) },
      })
    }
    for (const ratio of result.ratios.filter((r) => r.subject === subject.name && r.perRound.length > 0)) {
      const row = rowOf(subject.name, ratio.metric)
      ctx.record({
        subject: row.subject,
        metric: `${row.metric} ratio`,
        value: ratio.median,
        unit: 'x',
        params: {
          ...params,
          ...subject.params,
          stat: 'median',
          baseline: ratio.baseline,
          of: ratio.metric,
          perRound: ratio.perRound.map(round3),
        },
      })
    }
  }
}

function round3(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : Math.round(value * 1000) / 1000
}

/** How long each slice runs: full figures, or a short `--quick` smoke run. */
export function sliceTiming(ctx: BenchContext): { sliceMs: number; warmupMs: number; rounds: number } {
  return ctx.quick ? { sliceMs: 500, warmupMs: 100, rounds: 2 } : { sliceMs: 3000, warmupMs: 300, rounds: 4 }
}

/**
 * A subject whose slice is a closed loop of `op` at `concurrency`: ops/s, p50 and p99 latency, and
 * `cpu µs/op` (this process's CPU per operation). With `serverCpuUs` (the server's CPU time so far,
 * in µs, e.g. from INFO cpu), also `server µs/op`: the server's CPU per operation over the slice.
 */
export function closedLoopSubject(
  name: string,
  op: (seq: number) => Promise<unknown>,
  options: {
    concurrency: number
    sliceMs: number
    warmupMs: number
    signal: AbortSignal
    params?: Record<string, unknown>
    serverCpuUs?: () => Promise<number>
  },
): InterleaveSubject {
  return {
    name,
    ...(options.params ? { params: options.params } : {}),
    async slice(): Promise<Figures> {
      const serverBefore = await options.serverCpuUs?.()
      const r = await closedLoop(op, {
        concurrency: options.concurrency,
        durationMs: options.sliceMs,
        warmupMs: options.warmupMs,
        signal: options.signal,
      })
      const figures: Figures = { 'ops/s': r.opsPerSec, p50: r.latencyMs.p50, p99: r.latencyMs.p99, 'cpu µs/op': r.cpuUsPerOp }
      if (serverBefore !== undefined && options.serverCpuUs && r.totalOps > 0)
        figures['server µs/op'] = ((await options.serverCpuUs()) - serverBefore) / r.totalOps
      return figures
    },
  }
}

/** The CPU time (user + system, µs) a redis-server has used, from INFO cpu: for `serverCpuUs`. */
export function serverCpuOf(info: (section: string) => Promise<string>): () => Promise<number> {
  return async () => {
    const text = await info('cpu')
    const seconds = (field: string) => Number(new RegExp(`${field}:([\\d.]+)`).exec(text)?.[1] ?? Number.NaN)
    return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6
  }
}

/**
 * Records `ours` against the best of `theirs`, round by round (slices that ran next to each other),
 * as the median of the per-round ops/s ratios (metric `ops/s vs <label>`, unit `x`), and logs it.
 * With `costs` (metrics where less is better, such as `cpu µs/op`), also the median per-round
 * ratio of theirs (the cheapest) to ours for each (`<metric> vs peer`, with the peer in params:
 * above 1x, ours costs less).
 */
export function recordPairRatio(
  ctx: BenchContext,
  result: InterleaveResult,
  ours: string,
  theirs: string[],
  label: string,
  params: Record<string, unknown>,
  costs: string[] = [],
): number {
  const slices = (name: string) => result.subjects.find((s) => s.name === name)?.slices ?? []
  const ratios = (metric: string, better: 'higher' | 'lower') =>
    slices(ours)
      .map((f, round) => {
        const peer = theirs.map((t) => slices(t)[round]?.[metric] ?? Number.NaN)
        const own = f[metric] ?? Number.NaN
        return better === 'higher' ? own / Math.max(...peer) : Math.min(...peer) / own
      })
      .filter(Number.isFinite)
  const perRound = ratios('ops/s', 'higher')
  const value = median(perRound)
  ctx.record({
    subject: ours,
    metric: `ops/s vs ${label}`,
    value,
    unit: 'x',
    params: { ...params, stat: 'median', perRound: perRound.map(round3) },
  })
  ctx.log(`${ours} / ${label}: ${value.toFixed(2)}x (per round ${perRound.map((r) => r.toFixed(2)).join(', ')})`)
  for (const metric of costs) {
    const cost = ratios(metric, 'lower')
    if (cost.length === 0) continue
    const ratio = median(cost)
    ctx.record({
      subject: ours,
      metric: `${metric} vs peer`,
      value: ratio,
      unit: 'x',
      params: { ...params, stat: 'median', peer: label, perRound: cost.map(round3), better: 'above 1x: ours costs less' },
    })
    ctx.log(`  ${metric}: ${label} / ${ours} = ${ratio.toFixed(2)}x (per round ${cost.map((r) => r.toFixed(2)).join(', ')})`)
  }
  return value
}

/** An `onSlice` that logs each slice's ops/s, p50 and p99 as it finishes (progress on stderr). */
export function logSlice(ctx: BenchContext): (slice: SliceFigures) => void {
  return ({ round, subject, figures }) =>
    ctx.log(
      `  round ${round} ${subject}: ${formatValue(figures['ops/s'] ?? Number.NaN, 'ops/s')} ops/s, ` +
        `p50 ${formatValue(figures.p50 ?? Number.NaN, 'ms')} ms, p99 ${formatValue(figures.p99 ?? Number.NaN, 'ms')} ms` +
        (figures['cpu µs/op'] === undefined ? '' : `, cpu ${(figures['cpu µs/op'] as number).toFixed(2)} µs/op`) +
        (figures['server µs/op'] === undefined ? '' : `, server ${(figures['server µs/op'] as number).toFixed(2)} µs/op`),
    )
}
