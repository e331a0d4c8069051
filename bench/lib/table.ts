import type { ResultLine } from './types.js'

/** Formats a figure for humans: throughput with thousands separators, ms with 3 significant digits, ratios as 0.42x. */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return '-'
  if (unit === 'x') return `${value.toFixed(2)}x`
  if (unit.endsWith('/s') || Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US')
  if (Math.abs(value) >= 100) return value.toFixed(1)
  if (Math.abs(value) >= 10) return value.toFixed(2)
  return value.toFixed(3)
}

/** Renders rows as a plain-text table; numeric-looking cells are right-aligned. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const numeric = (cell: string) => /^[-+]?[\d,.]+x?$|^-$/.test(cell)
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i > 0 && numeric(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/**
 * The summary table: one row per subject, one column per metric (summary figures only, i.e.
 * results without `slice`), in the order they were recorded. Then, for throughput metrics
 * (unit ending in `/s`), the per-slice figures, and a note on what the ratios compare.
 */
export function resultsTable(lines: readonly ResultLine[]): string {
  const summary = lines.filter((l) => l.slice === undefined)
  const columns: { metric: string; unit: string }[] = []
  const subjects: string[] = []
  const cells = new Map<string, string>()
  for (const l of summary) {
    if (!columns.some((c) => c.metric === l.metric)) columns.push({ metric: l.metric, unit: l.unit })
    if (!subjects.includes(l.subject)) subjects.push(l.subject)
    cells.set(`${l.subject}\u0000${l.metric}`, formatValue(l.value, l.unit))
  }
  const out: string[] = []
  if (summary.length > 0) {
    const header = [
      'subject',
      ...columns.map((c) => (c.unit && c.unit !== c.metric && c.unit !== 'x' ? `${c.metric} (${c.unit})` : c.metric)),
    ]
    const rows = subjects.map((s) => [s, ...columns.map((c) => cells.get(`${s}\u0000${c.metric}`) ?? '')])
    out.push(renderTable(header, rows))
  }

  const sliced = lines.filter((l) => l.slice !== undefined && l.unit.endsWith('/s'))
  if (sliced.length > 0) {
    const groups = new Map<string, ResultLine[]>()
    for (const l of sliced) {
      const key = `${l.subject}\u0000${l.metric}`
      groups.set(key, [...(groups.get(key) ?? []), l])
    }
    const rows = [...groups.values()].map((g) => [
      g[0]!.subject,
      g[0]!.metric,
      [...g]
        .sort((a, b) => (a.slice ?? 0) - (b.slice ?? 0))
        .map((l) => formatValue(l.value, l.unit))
        .join('  '),
    ])
    out.push(
      '',
      'Per-slice figures (round 0, 1, ...; rounds alternate the subject order):',
      renderTable(['subject', 'metric', 'slices'], rows),
    )
  }

  const baselines = [
    ...new Set(summary.filter((l) => l.unit === 'x' && typeof l.params.baseline === 'string').map((l) => String(l.params.baseline))),
  ]
  if (baselines.length > 0) {
    out.push('', `Ratios: median of the per-round ratios against the baseline of their group (${baselines.join('; ')}).`)
  }
  return out.join('\n')
}
