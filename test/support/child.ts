import { type ChildProcess, spawn } from 'node:child_process'

const TSX = ['--import', 'tsx']

/** Starts `node --import tsx <script>` and resolves once it printed `ready`. */
export async function startChild(script: string, env: Record<string, string>, timeoutMs = 15_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...TSX, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
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
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited with ${code} before it was ready: ${output.slice(-1000)}`))
    })
  })
  return child
}

/** Sends SIGKILL (or `signal`) and waits for the exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
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
