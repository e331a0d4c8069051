import { redactUrlCredentials, thrownText } from '../core/errors.js'

/**
 * Helpers shared by the commands: one-line errors that carry the RedkitError code and never a
 * stack trace or a secret, and an exit that lets stdout/stderr drain first.
 */

/** `E_CODE: message` on one line; `secrets` (passwords the user passed) are replaced by `***`. */
export function formatError(error: unknown, secrets: Array<string | undefined> = []): string {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined
  let message = thrownText(error)
  message = redactUrlCredentials(message)
  for (const secret of secrets) if (secret) message = message.split(secret).join('***')
  message = message.replace(/\s*\n\s*/g, ' ').trim()
  return code ? `${code}: ${message}` : message
}

/** The password of a redis:// URL (raw and decoded), to scrub from anything printed. */
export function urlSecrets(url: string | undefined): string[] {
  if (!url) return []
  try {
    const { password } = new URL(url)
    if (!password) return []
    return [...new Set([password, safeDecode(password)])]
  } catch {
    return []
  }
}

/** Where a command connects: `--redis-url` (comma-separated seeds with `--cluster`), else $REDIS_URL, else the default. */
export interface RedisTarget {
  /** Connection options for createRedkit (standalone URL or Cluster seeds). */
  connection: { url: string } | { cluster: { rootNodes: string[] } }
  /** The URLs given, for display (redact them first). */
  urls: string[]
  /** Passwords in those URLs, to scrub from anything printed. */
  secrets: string[]
}

export function redisTarget(flags: { redisUrl?: string; cluster?: boolean }, defaultUrl: string): RedisTarget {
  const url = flags.redisUrl || process.env.REDIS_URL || defaultUrl
  const urls = flags.cluster
    ? url
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
    : [url]
  return { connection: flags.cluster ? { cluster: { rootNodes: urls } } : { url }, urls, secrets: urls.flatMap(urlSecrets) }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.writable) return resolve()
    stream.write('', () => resolve())
  })
}

/** Exits with `code` once everything written so far reached stdout and stderr. */
export async function exit(code: number): Promise<never> {
  await Promise.all([drain(process.stdout), drain(process.stderr)])
  process.exit(code)
}

/** Prints `redkit <command>: E_CODE: message` to stderr and exits with `exitCode`. */
export async function fail(command: string, error: unknown, exitCode: number, secrets: Array<string | undefined> = []): Promise<never> {
  process.stderr.write(`redkit ${command}: ${formatError(error, secrets)}\n`)
  return exit(exitCode)
}
