import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { isRedkitError } from 'redkit'
import type { Scenarios } from '../scenarios.js'
import { idParams } from './schemas.js'

/** One job that wants a lock: waiting for it, then holding it for `holdMs`. */
export interface LockTask {
  id: string
  lock: string
  state: 'waiting' | 'held'
  /** When it asked for the lock. */
  since: number
  holdMs: number
  /** The fencing token of its hold. */
  token?: number | undefined
  acquiredAt?: number | undefined
}

/**
 * Locks (`rk.lock`, fair FIFO): `POST /api/locks/:name/hold { ms, timeoutMs }` starts a task that
 * waits for the lock (in line behind the others), holds it for `ms`, then releases it; the answer
 * comes at once (202). `GET /api/locks` lists each lock's holder, with its fencing token, and its
 * waiters, as this service sees them.
 */
export function lockRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/locks', async () => locksSnapshot(scenarios))

    app.post<{ Params: { name: string }; Body: { ms: number; timeoutMs?: number } }>(
      '/api/locks/:name/hold',
      {
        schema: {
          params: idParams('name'),
          body: {
            type: 'object',
            required: ['ms'],
            additionalProperties: false,
            properties: {
              ms: { type: 'integer', minimum: 1, maximum: 60_000 },
              timeoutMs: { type: 'integer', minimum: 1, maximum: 120_000 },
            },
          },
        },
      },
      async (request, reply) => {
        const { name } = request.params
        const { ms, timeoutMs = 30_000 } = request.body
        const task: LockTask = { id: randomUUID(), lock: name, state: 'waiting', since: Date.now(), holdMs: ms }
        scenarios.lockTasks.set(task.id, task)
        scenarios.hub.publish('lock', { lock: name, task: task.id, state: 'waiting' })
        runTask(scenarios, task, timeoutMs)
        return reply.code(202).send(task)
      },
    )
  }
}

function runTask(scenarios: Scenarios, task: LockTask, timeoutMs: number): void {
  const lock = scenarios.rk.lock(task.lock, { ttlMs: 10_000 })
  const run = (async () => {
    try {
      await lock.acquire({ timeoutMs, signal: scenarios.closing })
      task.state = 'held'
      task.acquiredAt = Date.now()
      task.token = lock.token
      scenarios.hub.publish('lock-wait', { lock: task.lock, seconds: (task.acquiredAt - task.since) / 1000, outcome: 'acquired' })
      scenarios.hub.publish('lock', { lock: task.lock, task: task.id, state: 'held', token: task.token })
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, task.holdMs)
        scenarios.closing.addEventListener('abort', () => {
          clearTimeout(timer)
          resolve()
        })
      })
      await lock.release()
      scenarios.hub.publish('lock', { lock: task.lock, task: task.id, state: 'released' })
    } catch (error) {
      const outcome = isRedkitError(error, 'E_LOCK_TIMEOUT') ? 'timeout' : 'error'
      if (task.state === 'waiting') {
        scenarios.hub.publish('lock-wait', { lock: task.lock, seconds: (Date.now() - task.since) / 1000, outcome })
      }
      scenarios.hub.publish('lock', { lock: task.lock, task: task.id, state: outcome })
      if (lock.held) await lock.release().catch(() => {})
    } finally {
      scenarios.lockTasks.delete(task.id)
    }
  })()
  scenarios.lockRuns.add(run)
  run.finally(() => scenarios.lockRuns.delete(run))
}

export function locksSnapshot(scenarios: Scenarios) {
  const byLock = new Map<string, { name: string; holder: LockTask | null; waiters: LockTask[] }>()
  for (const task of scenarios.lockTasks.values()) {
    const entry = byLock.get(task.lock) ?? { name: task.lock, holder: null, waiters: [] }
    if (task.state === 'held') entry.holder = task
    else entry.waiters.push(task)
    byLock.set(task.lock, entry)
  }
  return { locks: [...byLock.values()].sort((a, b) => a.name.localeCompare(b.name)) }
}
