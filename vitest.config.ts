import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = fileURLToPath(new URL('./src/', import.meta.url))

export default defineConfig({
  resolve: {
    // The service imports the library by its package name; tests run both from source, as one copy.
    alias: [
      { find: /^redkit$/, replacement: `${src}index.ts` },
      { find: /^redkit\/(.+)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Three files at a time on 2 cores: most tests wait on Redis, timers and child processes, not on
    // the CPU. One worker (the default) took most of CI's 15-minute budget; on 2026-12-01 three took
    // 687 s where two took 868 s for the same suite on the same (loaded) machine.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
})
