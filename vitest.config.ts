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
    // Two files at a time: most tests wait on Redis, timers and child processes, not on the CPU, and
    // one worker (the default on 2 cores) made the suite take most of CI's 15-minute budget.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
})
