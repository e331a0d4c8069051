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
