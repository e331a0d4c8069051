import { LoadGenerator, validateRate } from './load.js'
import { resolveServeConfig, runService, type ServeFlags } from './serve.js'

export interface DemoFlags extends ServeFlags {
  /** Drive every scenario with generated traffic. */
  load?: boolean
  /** Requests per second of the load. @defaultValue 20 */
  rate?: string | number
  /** Stop after this many seconds (default: run until Ctrl-C). */
  duration?: string | number
  /** Load an already running service at this URL instead of starting one. */
  url?: string
}

function positive(value: string | number | undefined, flag: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got '${value}'`)
  return n
}

/**
 * `redkit demo [--load] [--rate N] [--duration S] [--url URL]`: starts the service (as `redkit serve`
 * does) or uses the one at `--url`, and with `--load` drives every scenario at `--rate` requests per
 * second, with a progress line every second (rewritten in place on a terminal). Ends after
 * `--duration` seconds with a summary, or on Ctrl-C.
 */
export async function runDemo(
  flags: DemoFlags,
  io: { print?: (line: string) => void; progress?: (line: string) => void } = {},
): Promise<void> {
  const print = io.print ?? ((line: string) => console.log(line))
  const tty = process.stdout.isTTY === true
  const progress = io.progress ?? ((line: string) => (tty ? process.stdout.write(`\r${line}\u001b[K`) : print(line)))
  const rate = validateRate(positive(flags.rate, '--rate') ?? 20)
  const durationS = positive(flags.duration, '--duration')
  let baseUrl = flags.url
  let service: Awaited<ReturnType<typeof runService>> | undefined
  if (!baseUrl) {
    service = await runService(resolveServeConfig(flags), { print })
    baseUrl = service.url
    print(`dashboard: ${baseUrl}/`)
  }
  if (!flags.load) {
    print('demo: no --load given; the service runs without generated traffic (add --load [--rate N])')
    return
  }
  if (service) {
    // The load reads users and reserves stock: both need the demo database, which opens after the service listens.
    print('load: waiting for the demo database to open')
    await service.scenarios.databaseReady()
  }
  const load = new LoadGenerator({ baseUrl, rate })
  print(`load: ${rate} steps/s on every scenario of ${baseUrl}${durationS ? ` for ${durationS} s` : ' (Ctrl-C stops)'}`)
  load.start()
  const ticker = setInterval(() => progress(load.progress()), 1000)
  // Ctrl-C: the load stops first, then the service's own handler shuts it down.
  const onSignal = () => {
    clearInterval(ticker)
    load.stop().catch(() => {})
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const finish = async () => {
    clearInterval(ticker)
    await load.stop()
    if (tty) process.stdout.write('\n')
    print(load.progress())
    print(
      `load: by scenario ${Object.entries(load.stats.byScenario)
        .sort()
        .map(([name, n]) => `${name} ${n}`)
        .join(', ')}`,
    )
  }
  if (durationS === undefined) {
    // The service's own SIGINT handler stops it; without one (--url), stop here.
    if (!service) {
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
      await finish()
    }
    return
  }
  await new Promise((resolve) => setTimeout(resolve, durationS * 1000))
  await finish()
  await service?.close()
}
