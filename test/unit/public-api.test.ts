import ts from 'typescript'
import { describe, expect, it } from 'vitest'

// The public surface is a decision: every name each entry point exports (values and types), pinned
// here so that adding, renaming or dropping one is a visible, deliberate change in review. Update
// the list together with the docs when the API changes; internals (connections, script loaders,
// stream readers, hash helpers) never belong here.
const EXPECTED: Record<string, string[]> = {
  'src/index.ts': [
    'AclOptions',
    'ClusterOptions',
    'Codec',
    'ConnectionOptions',
    'DoctorReport',
    'DurableOptions',
    'ErrorCode',
    'ErrorCodes',
    'Finding',
    'NodeRedisClient',
    'ReconnectingEvent',
    'RedisCredentials',
    'Redkit',
    'RedkitError',
    'RedkitErrorOptions',
    'RedkitEvents',
    'RedkitOptions',
    'SentinelOptions',
    'Severity',
    'Subscription',
    'Topology',
    'aclRules',
    'aclSetUserLine',
    'createRedkit',
    'isRedkitError',
    'redactUrlCredentials',
  ],
  'src/events/index.ts': [
    'DeadLetter',
    'Expirations',
    'ExpirationsEvents',
    'ExpirationsOptions',
    'ExpireOptions',
    'ExpiryEvent',
    'ExpiryHandler',
    'ExpirySetOptions',
    'Presence',
    'PresenceDeadLetter',
    'PresenceEvent',
    'PresenceEvents',
    'PresenceMember',
    'PresenceOfflineEvent',
    'PresenceOnlineEvent',
    'PresenceOptions',
    'PresenceTransitions',
    'PresenceWatchOptions',
    'SubscribeOptions',
    'Subscription',
  ],
  'src/cache/index.ts': [
    'Cache',
    'CacheEvents',
    'CacheOptions',
    'CacheSetOptions',
    'CacheStats',
    'CacheWriter',
    'DeadLetter',
    'FallbackEvent',
    'FallbackOptions',
    'GetOrLoadOptions',
    'HitEvent',
    'InvalidateEvent',
    'KeyEvent',
    'LiveDataset',
    'LiveDatasetEvents',
    'LiveDatasetOptions',
    'LiveDatasetUpdate',
    'LoadEvent',
    'LoadInfo',
    'Loader',
    'NearFlushReason',
    'NearOptions',
    'RefreshEvent',
    'WriteBehindOptions',
    'WriteInfo',
  ],
  'src/messaging/index.ts': [
    'AddedJob',
    'ApplyResult',
    'BackoffPolicy',
    'Channel',
    'ChannelEvents',
    'ChannelOptions',
    'ChannelSubscription',
    'ConsumerEvents',
    'ConsumerOptions',
    'Counter',
    'DelayedTask',
    'EventCounter',
    'EventCounterConsumer',
    'Job',
    'JobCounts',
    'JobError',
    'JobHandler',
    'JobHandlers',
    'JobInfo',
    'JobOptions',
    'JobState',
    'JobTraceContext',
    'MAX_PRIORITY',
    'MessageContext',
    'MessageHandler',
    'Queue',
    'QueueEvents',
    'QueueOptions',
    'QueueWorker',
    'RepeatResult',
    'RepeatingTask',
    'ScheduleInfo',
    'Scheduler',
    'TaskJobOptions',
    'UnrecoverableError',
    'Worker',
    'WorkerEvents',
    'WorkerOptions',
    'jobTracing',
  ],
  'src/lock/index.ts': [
    'AcquireOptions',
    'createRedlock',
    'Inventory',
    'InventoryOptions',
    'Lock',
    'LockHandle',
    'LockOptions',
    'ReadWriteLock',
    'Redlock',
    'RedlockClient',
    'RedlockLock',
    'RedlockOptions',
    'ReentrantLock',
    'Reservation',
    'Semaphore',
    'SemaphoreOptions',
  ],
  'src/session/index.ts': [
    'ClientContext',
    'ExpiredSession',
    'ExpiredSessionHandler',
    'FingerprintOption',
    'FrameworkSession',
    'GetSessionOptions',
    'IdSigner',
    'OnExpiredOptions',
    'RedkitSessionStore',
    'Session',
    'SessionEvents',
    'SessionInfo',
    'SessionManager',
    'SessionOptions',
    'SessionStoreOptions',
    'SingleSignOn',
    'SsoOptions',
    'SsoSession',
    'SsoTimeouts',
    'SsoView',
    'StoreCallback',
    'StoredSessionData',
  ],
  'src/stats/index.ts': [
    'BloomFilter',
    'BloomOptions',
    'BloomSize',
    'Bucket',
    'Granularity',
    'Leaderboard',
    'LeaderboardEntry',
    'LeaderboardOptions',
    'LeaderboardOrder',
    'LeaderboardPeriod',
    'LeaderboardReadOptions',
    'RangeQuery',
    'RateLimitAlgorithm',
    'RateLimitHeaderDraft',
    'RateLimitMiddlewareOptions',
    'RateLimitResult',
    'RateLimiter',
    'RateLimiterOptions',
    'SlidingWindowCounter',
    'SlidingWindowOptions',
    'Timeseries',
    'TimeseriesOptions',
    'UniqueCounter',
    'UniqueOptions',
    'rateLimitExpress',
    'rateLimitFastify',
  ],
}

/** Every exported name of each entry point, types included, as the compiler sees them. */
function exportedNames(entries: string[]): Record<string, string[]> {
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
  })
  const checker = program.getTypeChecker()
  const out: Record<string, string[]> = {}
  for (const entry of entries) {
    const file = program.getSourceFile(entry)
    const symbol = file && checker.getSymbolAtLocation(file)
    if (!symbol) throw new Error(`cannot read the exports of ${entry}`)
    out[entry] = checker
      .getExportsOfModule(symbol)
      .map((s) => s.name)
      .sort()
  }
  return out
}

describe('public API', () => {
  it('every entry point of the exports map exports exactly the documented names', { timeout: 60_000 }, () => {
    const expected = Object.fromEntries(Object.entries(EXPECTED).map(([entry, names]) => [entry, [...names].sort()]))
    expect(exportedNames(Object.keys(EXPECTED))).toEqual(expected)
  })

  it('the runtime exports are those names, and only values among them', async () => {
    for (const [entry, names] of Object.entries(EXPECTED)) {
      const module = (await import(/* @vite-ignore */ `../../${entry}`)) as Record<string, unknown>
      const runtime = Object.keys(module)
      for (const name of runtime) expect(names, `${entry} exports ${name} at run time`).toContain(name)
    }
  })

  it('has one exports-map subpath per entry point', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { exports: Record<string, unknown> }
    const subpaths = Object.keys(pkg.exports).filter((p) => p !== './package.json')
    const entries = subpaths.map((p) => (p === '.' ? 'src/index.ts' : `src/${p.slice(2)}/index.ts`))
    expect(entries.sort()).toEqual(Object.keys(EXPECTED).sort())
  })
})
