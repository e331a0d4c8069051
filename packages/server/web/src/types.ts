// The shape of `GET /api/dashboard` and of the `snapshot` events (packages/server/src/api/live.ts).

export interface Snapshot {
  at: number
  database: { state: 'opening' | 'open' | 'failed'; ms: number; description?: string; error?: string }
  devices: {
    ttlMs: number
    online: Array<{ id: string; since: number; lastBeat: number; deadline: number }>
    offline: Array<{ id: string; offlineAt: number; lastBeat: number }>
    simulated: Array<{ id: string; running: boolean; beats: number }>
  }
  inventory: {
    lapseMs: number
    products: Array<{ id: string; name: string; priceCents: number; initialStock: number; available: number; reserved: number }>
    reservations: Array<{ id: string; product: string; qty: number; user: string; expiresAt: number }>
  }
  locks: Array<{
    name: string
    holder: { id: string; since: number; acquiredAt?: number; holdMs: number; token?: number } | null
    waiters: Array<{ id: string; since: number }>
  }>
  queues: {
    name: string
    paused: boolean
    counts: Record<string, number>
    outcomes: { completed: number; failed: number; dead: number }
    workers: Array<{
      id: string
      host: string
      pid: number
      concurrency: number
      names: string[]
      startedAt: number
      lastSeenAt: number
      here: boolean
    }>
    dead: Array<{ id: string; attemptsMade: number; finishedAt?: number; error?: string }>
  }
  cache: {
    name: string
    stats: { hits: number; nearHits: number; misses: number; coalesced: number; loads: number; loadErrors: number; stale: number; refreshes: number }
    hitRatio: number | null
    databaseReads: number
  }
  expirations: { count: number; p50?: number; p99?: number; recent: Array<{ key: string; lateMs: number; firedAt: number }> }
  pageViews: { granularity: string; buckets: Array<{ start: number; value: number }>; uniqueVisitorsLastHour: number }
  leaderboard: Array<{ member: string; score: number; rank: number }>
  rateLimit: { limit: number; windowMs: number; allowed: number; denied: number }
}

export interface JobInfo {
  id: string
  state: string
  data: unknown
  attemptsMade: number
  attempts?: number
  createdAt: number
  startedAt?: number
  finishedAt?: number
  progress?: unknown
  result?: unknown
  error?: { message: string; code?: string; name?: string; stack?: string }
  scheduleId?: string
}
