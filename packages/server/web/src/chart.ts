import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/**
 * A live line chart over a sliding window: `push(t, ...values)` appends a point and redraws.
 * Sized to its container, resized with it.
 */
export class LiveChart {
  readonly #plot: uPlot
  readonly #data: number[][]
  readonly #max: number

  constructor(
    container: HTMLElement,
    series: Array<{ label: string; stroke: string; fill?: string }>,
    options: { max?: number; yLabel?: string; bars?: boolean } = {},
  ) {
    this.#max = options.max ?? 120
    this.#data = [[], ...series.map(() => [])]
    const width = Math.max(200, container.clientWidth)
    const paths = options.bars ? uPlot.paths.bars?.({ size: [0.6, 40] }) : undefined
    this.#plot = new uPlot(
      {
        width,
        height: 150,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] } },
        axes: [{ stroke: '#888' }, { stroke: '#888', label: options.yLabel ?? '', size: 50 }],
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: false }, ...(s.fill ? { fill: s.fill } : {}), ...(paths ? { paths } : {}) })),
        ],
      },
      this.#data as uPlot.AlignedData,
      container,
    )
    new ResizeObserver(() => {
      const next = Math.max(200, container.clientWidth)
      if (next !== this.#plot.width) this.#plot.setSize({ width: next, height: 150 })
    }).observe(container)
  }

  push(t: number, ...values: Array<number | null>): void {
    const [xs, ...ys] = this.#data as [number[], ...number[][]]
    xs.push(t / 1000)
    values.forEach((value, i) => ys[i]?.push(value as number))
    if (xs.length > this.#max) for (const column of this.#data) column.splice(0, column.length - this.#max)
    this.#plot.setData(this.#data as uPlot.AlignedData)
  }

  /** Replaces every point (for series the server keeps, such as page views per minute). */
  set(xs: number[], ...ys: number[][]): void {
    this.#data.splice(0, this.#data.length, xs.map((x) => x / 1000), ...ys)
    this.#plot.setData(this.#data as uPlot.AlignedData)
  }
}
