import type { Connection, NodeHandle } from './connection.js'
import { hasExpiredEvents, parseInfo, readConfig } from './server-config.js'

export type Severity = 'error' | 'warn' | 'info'

export interface Finding {
  /** Stable identifier, e.g. `maxmemory-policy`. */
  id: string
  severity: Severity
  /** The node the finding is about (`host:port`). */
  node: string
  /** The server setting concerned, when there is one. */
  setting?: string
  current?: string
  expected?: string
  /** What is wrong and what it breaks. */
  message: string
  /** The exact command or configuration line that fixes it. */
  fix?: string
}

export interface DoctorReport {
  /** False when any finding is an error. */
  ok: boolean
  topology: string
  nodes: Array<{ node: string; version?: string }>
  findings: Finding[]
}

const SETTINGS = ['notify-keyspace-events', 'maxmemory', 'maxmemory-policy', 'appendonly', 'appendfsync', 'save'] as const

/** Checks every master's configuration against what redkit's components need, with the fix for each gap. */
export async function runDoctor(connection: Connection): Promise<DoctorReport> {
  const nodes = connection.masters()
  const perNode = await Promise.all(nodes.map((node) => inspectNode(node)))
  const findings = perNode.flatMap((r) => r.findings)
  return {
    ok: !findings.some((f) => f.severity === 'error'),
    topology: connection.topology,
    nodes: perNode.map((r) => ({ node: r.node, ...(r.version ? { version: r.version } : {}) })),
    findings,
  }
}

async function inspectNode(node: NodeHandle): Promise<{ node: string; version?: string; findings: Finding[] }> {
  const findings: Finding[] = []
  const where = node.address
  const cli = `redis-cli -h ${where.split(':')[0]} -p ${where.split(':')[1] ?? 6379}`
  const info = parseInfo(String(await node.send(['INFO', 'server'])))
  const version = info.get('redis_version')
  if (version) {
    const [major = 0, minor = 0] = version.split('.').map(Number)
    if (major < 6 || (major === 6 && minor < 2)) {
      findings.push({
        id: 'version',
        severity: 'error',
        node: where,
        current: version,
        expected: '>= 6.2',
        message: `Redis ${version} lacks commands redkit uses (GETDEL, ZRANGE BYSCORE LIMIT, XAUTOCLAIM).`,
        fix: 'Upgrade Redis to 7.x.',
      })
    } else if (major < 7) {
      findings.push({
        id: 'version',
        severity: 'warn',
        node: where,
        current: version,
        expected: '>= 7.0',
        message: `Redis ${version}: reliable expirations (PEXPIRETIME) and sharded pub/sub (Cluster channels, lock wake-ups) need Redis 7.`,
        fix: 'Upgrade Redis to 7.x.',
      })
    }
  }
  const config = await readConfig(node, SETTINGS)
  if (!config) {
    findings.push({
      id: 'config-unavailable',
      severity: 'warn',
      node: where,
      message: 'CONFIG is disabled on this server (usual on managed services), so redkit cannot check or adjust it.',
      fix: 'Check in your provider console: notify-keyspace-events includes "Ex" (native expiry events), maxmemory-policy is noeviction (queues, locks), persistence (AOF) is on.',
    })
    return { node: where, ...(version ? { version } : {}), findings }
  }
  const notify = config.get('notify-keyspace-events') ?? ''
  if (!hasExpiredEvents(notify)) {
    const wanted = notify.includes('E') ? `${notify}x` : `${notify}Ex`
    findings.push({
      id: 'notify-keyspace-events',
      severity: 'warn',
      node: where,
      setting: 'notify-keyspace-events',
      current: notify,
      expected: 'includes Ex',
      message:
        'Keyspace notifications for expirations are off: rk.expirations in native mode enables them when CONFIG is allowed, otherwise it fails.',
      fix: `${cli} CONFIG SET notify-keyspace-events ${wanted}   (and in redis.conf: notify-keyspace-events ${wanted})`,
    })
  }
  const maxmemory = Number(config.get('maxmemory') ?? '0')
  const policy = config.get('maxmemory-policy') ?? ''
  if (policy !== 'noeviction') {
    findings.push({
      id: 'maxmemory-policy',
      severity: maxmemory > 0 ? 'error' : 'warn',
      node: where,
      setting: 'maxmemory-policy',
      current: policy,
      expected: 'noeviction',
      message:
        maxmemory > 0
          ? `With maxmemory ${maxmemory} and policy ${policy}, Redis may evict queue jobs, locks and deadline indexes under memory pressure: jobs vanish and locks are granted twice.`
          : `Policy ${policy} has no effect while maxmemory is 0, but eviction would start as soon as a limit is set.`,
      fix: `${cli} CONFIG SET maxmemory-policy noeviction   (and in redis.conf: maxmemory-policy noeviction)`,
    })
  }
  const aof = config.get('appendonly') === 'yes'
  const rdb = (config.get('save') ?? '').trim() !== ''
  if (!aof && !rdb) {
    findings.push({
      id: 'persistence',
      severity: 'warn',
      node: where,
      setting: 'appendonly',
      current: 'no (and save "")',
      expected: 'yes',
      message:
        'Persistence is off: a restart loses queued jobs, pending write-behind entries, expiry events not yet delivered and sessions.',
      fix: `${cli} CONFIG SET appendonly yes   (and in redis.conf: appendonly yes, appendfsync everysec)`,
    })
  } else if (!aof) {
    findings.push({
      id: 'persistence',
      severity: 'info',
      node: where,
      setting: 'appendonly',
      current: 'no (RDB snapshots only)',
      expected: 'yes',
      message: 'Only RDB snapshots: a crash loses the writes since the last snapshot.',
      fix: `${cli} CONFIG SET appendonly yes`,
    })
  }
  const fsync = config.get('appendfsync')
  if (aof && fsync === 'no') {
    findings.push({
      id: 'appendfsync',
      severity: 'info',
      node: where,
      setting: 'appendfsync',
      current: 'no',
      expected: 'everysec',
      message: 'appendfsync no leaves durability to the OS (up to ~30 s of writes).',
      fix: `${cli} CONFIG SET appendfsync everysec`,
    })
  }
  return { node: where, ...(version ? { version } : {}), findings }
}

/** Human-readable report, for `redkit doctor`. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`topology: ${report.topology}; nodes: ${report.nodes.map((n) => `${n.node} (Redis ${n.version ?? '?'})`).join(', ')}`]
  if (report.findings.length === 0) lines.push('all checks passed')
  for (const f of report.findings) {
    lines.push(`[${f.severity.toUpperCase()}] ${f.id} on ${f.node}${f.current !== undefined ? ` (now: ${f.current || '""'})` : ''}`)
    lines.push(`    ${f.message}`)
    if (f.fix) lines.push(`    fix: ${f.fix}`)
  }
  return lines.join('\n')
}
