import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ErrorCodes, RedkitError } from 'redkit'

/**
 * Starts and stops local `redis-server` processes: the service's embedded default, the test
 * suite's throwaway servers and the benchmarks' servers all come from here.
 */

export const INSTALL_HINT =
  'redis-server was not found. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`, macOS: `brew install redis`) or set REDIS_URL to a running server.'

export interface RedisProcessOptions {
  /** @defaultValue a free loopback port */
  port?: number
  /** @defaultValue '127.0.0.1' */
  host?: string
  /** Extra `--name value` arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[]
  /** Working directory for RDB/AOF/nodes.conf. @defaultValue a fresh temp dir removed on stop */
  dir?: string
  /** @defaultValue process.env.REDKIT_REDIS_SERVER ?? 'redis-server' */
  binary?: string
  /** How long to wait for the server to accept connections. @defaultValue 10_000 */
  startTimeoutMs?: number
  /** Run as a Sentinel monitoring this master instead of as a data server. */
  sentinelOf?: { name: string; host: string; port: number; downAfterMs?: number }
}

export interface RedisProcess {
  readonly host: string
  readonly port: number
  readonly url: string
  readonly dir: string
  readonly pid: number
  /** Sends a signal without waiting (e.g. 'SIGKILL' for crash tests, 'SIGSTOP' to freeze). */
  signal(signal: NodeJS.Signals): void
  /** Stops the server (SIGTERM, then SIGKILL) and removes its temp dir if redkit created it. */
  stop(): Promise<void>
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>
}

export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** True when something answers PING on host:port within the timeout. */
export async function pingTcp(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    let buffer = ''
    const finish = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.once('error', () => finish(false))
    socket.once('close', () => finish(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1')
      // +PONG normally; -NOAUTH still proves a Redis is there.
      if (buffer.includes('\r\n')) finish(buffer.startsWith('+PONG') || buffer.startsWith('-NOAUTH'))
    })
  })
}

export async function startRedisServer(options: RedisProcessOptions = {}): Promise<RedisProcess> {
  const host = options.host ?? '127.0.0.1'
  const binary = options.binary ?? process.env.REDKIT_REDIS_SERVER ?? 'redis-server'
  const ownDir = options.dir === undefined
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'redkit-redis-')))
  const startTimeoutMs = options.startTimeoutMs ?? 10_000
  // A port found free can be taken before the server binds it; retry on a new one then.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort(host))
    const common = ['--port', String(port), '--bind', host, '--dir', dir, '--daemonize', 'no', '--logfile', '']
    let args: string[]
    let ready = 'Ready to accept connections'
    if (options.sentinelOf) {
      // Sentinel needs a config file it can rewrite; it announces readiness with +monitor.
      const { name, host: masterHost, port: masterPort, downAfterMs = 1000 } = options.sentinelOf
      const conf = path.join(dir, `sentinel-${port}.conf`)
      await writeFile(
        conf,
        `sentinel monitor ${name} ${masterHost} ${masterPort} 1\nsentinel down-after-milliseconds ${name} ${downAfterMs}\n`,
      )
      args = [conf, '--sentinel', ...common, ...(options.args ?? [])]
      ready = '+monitor master'
    } else {
      args = [...common, '--save', '', '--appendonly', 'no', ...(options.args ?? [])]
    }
    try {
      return await launch(binary, args, host, port, dir, ownDir, startTimeoutMs, ready)
    } catch (error) {
      const retriable = error instanceof RedkitError && error.details?.addressInUse === true
      if (!retriable || options.port !== undefined || attempt >= 5) {
        if (ownDir) await rm(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
}

function launch(
  binary: string,
  args: string[],
  host: string,
  port: number,
  dir: string,
  ownDir: boolean,
  startTimeoutMs: number,
  ready: string,
): Promise<RedisProcess> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess
    try {
      child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (error) {
      reject(new RedkitError(ErrorCodes.E_SERVER_CONFIG, INSTALL_HINT, { cause: error }))
      return
    }
    let output = ''
    let settled = false
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
    const fail = (error: RedkitError) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    const timer = setTimeout(
      () => fail(new RedkitError(ErrorCodes.E_TIMEOUT, `redis-server did not start within ${startTimeoutMs} ms: ${output.slice(-500)}`)),
      startTimeoutMs,
    )
    child.once('error', (error: NodeJS.ErrnoException) => {
      fail(
        error.code === 'ENOENT'
          ? new RedkitError(ErrorCodes.E_SERVER_CONFIG, INSTALL_HINT, { cause: error })
          : new RedkitError(ErrorCodes.E_SERVER_CONFIG, `cannot start redis-server: ${error.message}`, { cause: error }),
      )
    })
    child.once('exit', (code) => {
      const addressInUse = /Address already in use/i.test(output)
      fail(
        new RedkitError(ErrorCodes.E_SERVER_CONFIG, `redis-server exited with code ${code} before it was ready: ${output.slice(-500)}`, {
          details: { addressInUse },
        }),
      )
    })
    const onData = (chunk: Buffer) => {
      if (settled) return
      output += chunk.toString()
      if (output.includes(ready)) {
        settled = true
        clearTimeout(timer)
        child.stdout?.removeListener('data', onData)
        // Keep draining so a full pipe never blocks the server.
        child.stdout?.resume()
        child.stderr?.resume()
        resolve(handle(child, host, port, dir, ownDir, exited))
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
  })
}

function handle(
  child: ChildProcess,
  host: string,
  port: number,
  dir: string,
  ownDir: boolean,
  exited: Promise<number | null>,
): RedisProcess {
  let stopping: Promise<void> | undefined
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    dir,
    pid: child.pid ?? -1,
    exited,
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGCONT')
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
          await exited
          clearTimeout(timer)
        }
        if (ownDir) await rm(dir, { recursive: true, force: true })
      })()
      return stopping
    },
  }
}
