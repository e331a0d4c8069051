import { afterAll, beforeAll, describe } from 'vitest'
import { createRedkit, type Redkit, type RedkitOptions } from '../../src/index.js'
import { closeAll, clusterUrls, rawClient, rawCluster, sentinelSetup, standaloneUrl, testPrefix } from './redis.js'

export type TopologyName = 'standalone' | 'cluster' | 'sentinel'

export const EVERY_TOPOLOGY: readonly TopologyName[] = ['standalone', 'cluster', 'sentinel']

/** The connection options of a redkit on one of the test topologies (no prefix). */
export function topologyOptions(name: TopologyName): RedkitOptions {
  if (name === 'cluster') return { cluster: { rootNodes: clusterUrls() } }
  if (name === 'sentinel') return { sentinel: sentinelSetup().options }
  return { url: standaloneUrl() }
}

/** What a contract suite gets: a redkit with its own prefix, and raw access to the same data. */
export interface TopologyUnderTest {
  readonly name: TopologyName
  /** Options for another redkit on the same topology (give your own prefix, or `rk.keys.prefix` to share). */
  options(): RedkitOptions
  /** Opened before the suite's tests, closed after them. */
  readonly rk: Redkit
  readonly prefix: string
  /** A raw command against the data node that holds `key` (Cluster routes by it), bypassing redkit. */
  command<T = unknown>(args: string[], key?: string): Promise<T>
}

interface RawCommands {
  sendCommand(...args: unknown[]): Promise<unknown>
  close(): Promise<unknown>
  destroy(): unknown
  isOpen?: boolean
}

/**
 * Runs `body` once per topology (standalone, Cluster and Sentinel unless `only` narrows it), each in
 * its own `describe` titled `<title> on <topology>`, with a redkit and raw access set up and torn
 * down around it. Every module's contract suite uses this, so a guarantee is checked wherever it is
 * promised:
 *
 *   onEveryTopology('cache', (t) => { it('...', async () => { const c = t.rk.cache('x') ... }) })
 */
export function onEveryTopology(
  title: string,
  body: (t: TopologyUnderTest) => void,
  {
    only = EVERY_TOPOLOGY,
    options: extra = {},
    prefix: given,
  }: { only?: readonly TopologyName[]; options?: RedkitOptions; prefix?: string } = {},
): void {
  describe.each(only.map((name) => [name]))(`${title} on %s`, (name) => {
    let rk: Redkit | undefined
    let raw: RawCommands | undefined
    const prefix = given ?? testPrefix()
    const t: TopologyUnderTest = {
      name,
      options: () => topologyOptions(name),
      prefix,
      get rk(): Redkit {
        if (!rk) throw new Error('t.rk is only available inside tests and hooks')
        return rk
      },
      async command<T>(args: string[], key?: string): Promise<T> {
        if (!raw) throw new Error('t.command is only available inside tests and hooks')
        return (name === 'cluster' ? raw.sendCommand(key, false, args) : raw.sendCommand(args)) as Promise<T>
      },
    }
    beforeAll(async () => {
      rk = await createRedkit({ ...topologyOptions(name), ...extra, prefix })
      raw = (name === 'cluster'
        ? await rawCluster()
        : await rawClient(name === 'sentinel' ? sentinelSetup().masterUrl : standaloneUrl())) as unknown as RawCommands
    })
    afterAll(async () => {
      await rk?.close()
      await closeAll(raw)
    })
    body(t)
  })
}
