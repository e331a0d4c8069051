import { isRedkitError, type Redkit, type RedkitOptions } from '../../src/index.js'
import { clusterUrls, standaloneUrl } from './redis.js'

function describeFailure(error: unknown): string {
  return isRedkitError(error) ? error.code : `not a RedkitError: ${String(error)}`
}

/**
 * The code of the RedkitError a promise (or a function, sync or async) fails with; undefined when
 * it succeeds, and a descriptive string (never a valid code) when it fails with anything else.
 */
export async function errorCode(run: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof run === 'function' ? run() : run)
  } catch (error) {
    return describeFailure(error)
  }
  return undefined
}

/** The same for synchronous code. */
export function thrownCode(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    return describeFailure(error)
  }
  return undefined
}

/** The topologies every contract suite runs on: `describe.each(TOPOLOGIES)('... on %s', (name, options) => ...)`. */
export const TOPOLOGIES: Array<[name: 'standalone' | 'cluster', options: () => RedkitOptions]> = [
  ['standalone', () => ({ url: standaloneUrl() })],
  ['cluster', () => ({ cluster: { rootNodes: clusterUrls() } })],
]

/** The same, plus the environment that tells a child process (test/fixtures) where Redis is. */
export const PROCESS_TOPOLOGIES: Array<[name: 'standalone' | 'cluster', options: () => RedkitOptions, env: () => Record<string, string>]> =
  [
    ['standalone', () => ({ url: standaloneUrl() }), () => ({ REDKIT_URL: standaloneUrl() })],
    ['cluster', () => ({ cluster: { rootNodes: clusterUrls() } }), () => ({ REDKIT_CLUSTER: clusterUrls().join(',') })],
  ]

/** Runs `fn` while counting the commands and script calls `rk` sends (its connection's `send`). */
export async function countSends<T>(rk: Redkit, fn: () => Promise<T>): Promise<{ result: T; sends: number }> {
  const send = rk.connection.send.bind(rk.connection)
  let sends = 0
  rk.connection.send = ((...args: Parameters<typeof send>) => {
    sends++
    return send(...args)
  }) as typeof send
  try {
    return { result: await fn(), sends }
  } finally {
    rk.connection.send = send
  }
}
