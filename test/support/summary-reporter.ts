import { writeSync } from 'node:fs'
import type { Reporter, SerializedError, TestModule, Vitest } from 'vitest/node'

interface Counts {
  passed: number
  failed: number
  skipped: number
}

/**
 * Prints `tests: N passed, N failed[, N skipped]` on a line of its own as the very last line of
 * the run; CI reads that line.
 *
 * - Errors outside any test (a file that fails to load, a failing beforeAll/afterAll, an unhandled
 *   error) count as failures, and so does a run that exits non-zero with no failed test (global
 *   setup or teardown failed, no test files found): a broken run never prints `0 failed`.
 * - `vitest run` prints after everything else, from the process 'exit' hook, because Vitest
 *   reports global setup/teardown errors after `onTestRunEnd`. Watch mode prints after each run.
 */
export default class SummaryReporter implements Reporter {
  private counts: Counts | undefined
  private watch = false

  onInit(vitest: Vitest): void {
    this.watch = vitest.config.watch
    if (!this.watch) process.once('exit', (code) => this.print(code))
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    this.counts = count(testModules, unhandledErrors)
    if (this.watch) this.print(0)
  }

  private print(exitCode: number): void {
    const { passed, skipped } = this.counts ?? { passed: 0, skipped: 0 }
    let failed = this.counts?.failed ?? 0
    if (exitCode !== 0 && failed === 0) failed = 1
    const line = `tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`
    // Synchronous on purpose: this may run in the 'exit' hook, where async writes are lost.
    writeSync(1, `\n${line}\n`)
  }
}

function count(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): Counts {
  const counts: Counts = { passed: 0, failed: unhandledErrors.length, skipped: 0 }
  for (const testModule of testModules) {
    let failedHere = 0
    for (const test of testModule.children.allTests()) {
      const state = test.result().state
      if (state === 'passed') counts.passed++
      else if (state === 'failed') failedHere++
      else if (state === 'skipped') counts.skipped++
    }
    // A module can fail without a failed test: load error, hook error, error in a suite body.
    if (failedHere === 0 && testModule.state() === 'failed') failedHere = 1
    counts.failed += failedHere
  }
  return counts
}
