import { type DoctorReport, formatDoctorReport } from '../../core/doctor.js'
import { redactUrlCredentials } from '../../core/errors.js'
import { createRedkit, type Redkit } from '../../redkit.js'
import { type CommandSpec, timeoutOption } from '../args.js'
import { exit, fail, urlSecrets } from '../output.js'

export const DEFAULT_DOCTOR_URL = 'redis://127.0.0.1:6379'

interface DoctorFlags {
  redisUrl?: string
  json?: boolean
  timeout: number
}

/**
 * `redkit doctor`: checks the server configuration redkit needs. Exit codes: 0 no error finding,
 * 1 at least one error finding, 2 the check could not run (bad URL, unreachable, refused credentials).
 */
export const doctorCommand: CommandSpec<DoctorFlags> = {
  name: 'doctor',
  summary: 'check the Redis server configuration redkit needs, with the exact fix for each finding',
  positionals: [],
  options: {
    redisUrl: { type: 'string', value: 'url', help: `Redis to check (default: $REDIS_URL, else ${DEFAULT_DOCTOR_URL})` },
    json: { type: 'boolean', help: 'print the report as JSON' },
    timeout: timeoutOption(3000),
  },
  epilog: 'Exit codes: 0 no error finding, 1 an error finding, 2 the check could not run.',
  usageExitCode: 2,
  async run(_positionals, flags) {
    const url = flags.redisUrl || process.env.REDIS_URL || DEFAULT_DOCTOR_URL
    const secrets = urlSecrets(url)
    let rk: Redkit
    try {
      rk = await createRedkit({ url, connectTimeoutMs: flags.timeout })
    } catch (error) {
      return fail('doctor', withTarget(error, url), 2, secrets)
    }
    let report: DoctorReport
    try {
      report = await rk.doctor()
    } catch (error) {
      await rk.close().catch(() => {})
      return fail('doctor', withTarget(error, url), 2, secrets)
    }
    await rk.close().catch(() => {})
    process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report)}\n`)
    return exit(report.ok ? 0 : 1)
  },
}

/** Appends the (redacted) target so the one-line error says which Redis it is about. */
function withTarget(error: unknown, url: string): unknown {
  if (!(error instanceof Error)) return error
  const copy = Object.assign(new Error(`${error.message} [${redactUrlCredentials(url)}]`), { code: (error as { code?: unknown }).code })
  return copy
}
