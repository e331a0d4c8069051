import { appendFileSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchResult, ResultLine } from './types.js'

/** bench/results/ (git-ignored), whatever the working directory. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

/** `2025-11-22T03-07-00.123Z`: an ISO timestamp with ':' replaced by '-' (valid on every file system). */
export function fileTimestamp(date = new Date()): string {
  return date.toISOString().replaceAll(':', '-')
}

/**
 * Appends each result as one JSON line to `bench/results/<bench>-<timestamp>.jsonl` as soon as it
 * is recorded (a crash or Ctrl-C keeps what was measured), and keeps them for the final table.
 */
export class ResultsFile {
  readonly path: string
  readonly lines: ResultLine[] = []

  constructor(
    readonly bench: string,
    dir = RESULTS_DIR,
    startedAt = new Date(),
  ) {
    mkdirSync(dir, { recursive: true })
    this.path = path.join(dir, `${bench}-${fileTimestamp(startedAt)}.jsonl`)
  }

  write(result: BenchResult): ResultLine {
    if (typeof result.subject !== 'string' || typeof result.metric !== 'string' || typeof result.unit !== 'string') {
      throw new TypeError('record(): subject, metric and unit must be strings')
    }
    if (typeof result.value !== 'number') throw new TypeError('record(): value must be a number')
    const line: ResultLine = {
      bench: this.bench,
      subject: result.subject,
      metric: result.metric,
      // JSON has no NaN/Infinity: they become null in the file.
      value: result.value,
      unit: result.unit,
      params: result.params ?? {},
      ...(result.slice === undefined ? {} : { slice: result.slice }),
      at: new Date().toISOString(),
    }
    appendFileSync(this.path, `${JSON.stringify(line)}\n`)
    this.lines.push(line)
    return line
  }
}
