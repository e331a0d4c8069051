import { type ChildProcess, spawn } from 'node:child_process'

const TSX = ['--import', 'tsx']

/**
 * Starts `node --import tsx <script>` and resolves once it printed `ready`. A child that exits
 * first, or misses `timeoutMs`, is killed (and waited for) before the promise rejects: a failed
 * start never leaves a process behind.
 */
export async function startChild(script: string, env: Record<string, string>, timeoutMs = 15_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...TSX, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} not ready within ${timeoutMs} ms: ${output.slice(-1000)}`)), timeoutMs)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('ready\n')) {
          clearTimeout(timer)
          child.stdout?.removeListener('data', onData)
          child.stdout?.resume()
          resolve()
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${script} exited with ${code} before it was ready: ${output.slice(-1000)}`))
      })
    })
  } catch (error) {
    await stopChild(child)
    throw error
  }
  return child
}

/**
 * Starts `count` copies of `script` at once. If one fails to start, the others are stopped too and
 * the first failure is thrown: the caller never holds a half-started set.
 */
export async function startChildren(
  count: number,
  script: string,
  env: Record<string, string>,
  timeoutMs?: number,
): Promise<ChildProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startChild(script, env, timeoutMs)))
  const children = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) {
    await Promise.all(children.map((child) => stopChild(child)))
    throw failed.reason
  }
  return children
}

/** Sends SIGKILL (or `signal`) and waits for the exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  // A child that never spawned (its 'error' fired) has no pid and will never exit.
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill(signal)
  await exited
}

/**
 * Runs `examples/<file>` with tsx against `env` (e.g. `{ REDIS_URL }`) and resolves with its
 * output once it exits by itself; fails if it has not after `timeoutMs`.
 */
export function runExample(
  file: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = new URL('../../', import.meta.url)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TSX, `examples/${file}`], { cwd: root, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${file} did not exit within ${timeoutMs} ms; output so far:\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}
