import type { FastifyPluginAsync } from 'fastify'
import type { JobState } from 'redkit/messaging'
import { type DemoJobData, QUEUE_NAME, type Scenarios } from '../scenarios.js'
import { apiError } from './errors.js'
import { idParams, idString } from './schemas.js'

const STATES = ['waiting', 'delayed', 'active', 'completed', 'dead'] as const

interface EnqueueBody {
  kind: DemoJobData['kind']
  ms?: number
  message?: string
  payload?: unknown
  delayMs?: number
  attempts?: number
  backoffMs?: number
  priority?: number
  jobId?: string
}

/** The job queue (Bull Board's operations): enqueue, list by state, detail, retry, remove, dead letters, pause, schedules. */
export function jobRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    const { queue } = scenarios

    app.post<{ Body: EnqueueBody }>(
      '/api/jobs',
      {
        schema: {
          body: {
            type: 'object',
            required: ['kind'],
            additionalProperties: false,
            properties: {
              kind: { type: 'string', enum: ['ok', 'fail', 'slow'] },
              ms: { type: 'integer', minimum: 0, maximum: 60_000 },
              message: { type: 'string', maxLength: 500 },
              payload: {},
              delayMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
              attempts: { type: 'integer', minimum: 1, maximum: 25 },
              backoffMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
              priority: { type: 'integer', minimum: 0, maximum: 2_097_152 },
              jobId: idString,
            },
          },
        },
      },
      async (request, reply) => {
        const { kind, ms, message, payload, delayMs, attempts, backoffMs, priority, jobId } = request.body
        const data: DemoJobData = { kind }
        if (ms !== undefined) data.ms = ms
        if (message !== undefined) data.message = message
        if (payload !== undefined) data.payload = payload
        const added = await queue.add(data, {
          ...(delayMs === undefined ? {} : { delayMs }),
          ...(attempts === undefined ? {} : { attempts }),
          ...(backoffMs === undefined ? {} : { backoff: backoffMs }),
          ...(priority === undefined ? {} : { priority }),
          ...(jobId === undefined ? {} : { jobId }),
        })
        scenarios.hub.publish('job', { id: added.id, state: delayMs ? 'delayed' : 'waiting' })
        return reply.code(added.created ? 201 : 200).send(added)
      },
    )

    app.get<{ Querystring: { state: JobState; limit: number; offset: number } }>(
      '/api/jobs',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: STATES, default: 'waiting' },
              limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
              offset: { type: 'integer', minimum: 0, default: 0 },
            },
          },
        },
      },
      async (request) => {
        const { state, limit, offset } = request.query
        return { state, jobs: await queue.jobs(state, { limit, offset }) }
      },
    )

    app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: idParams('id') } }, async (request, reply) => {
      const job = await queue.getJob(request.params.id)
      if (!job) return reply.code(404).send(apiError('E_NOT_FOUND', `no job '${request.params.id}'`))
      return job
    })

    app.post<{ Params: { id: string } }>('/api/jobs/:id/retry', { schema: { params: idParams('id') } }, async (request, reply) => {
      const { id } = request.params
      const job = await queue.getJob(id)
      if (!job) return reply.code(404).send(apiError('E_NOT_FOUND', `no job '${id}'`))
      if (job.state !== 'dead')
        return reply.code(409).send(apiError('E_NOT_DEAD', `job '${id}' is ${job.state}; only dead letters can be retried`))
      const retried = await queue.retryDead({ ids: [id] })
      scenarios.hub.publish('job', { id, state: 'waiting', retried: true })
      return { id, retried }
    })

    app.post<{ Params: { id: string } }>('/api/jobs/:id/promote', { schema: { params: idParams('id') } }, async (request, reply) => {
      const { id } = request.params
      const job = await queue.getJob(id)
      if (!job) return reply.code(404).send(apiError('E_NOT_FOUND', `no job '${id}'`))
      if (!(await queue.promote(id)))
        return reply.code(409).send(apiError('E_NOT_DELAYED', `job '${id}' is ${job.state}; only delayed jobs can be promoted`))
      scenarios.hub.publish('job', { id, state: 'waiting', promoted: true })
      return { id, promoted: true }
    })

    app.get<{ Params: { id: string }; Querystring: { offset: number; limit: number } }>(
      '/api/jobs/:id/logs',
      {
        schema: {
          params: idParams('id'),
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            },
          },
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!(await queue.getJob(id))) return reply.code(404).send(apiError('E_NOT_FOUND', `no job '${id}'`))
        const { offset, limit } = request.query
        return { id, ...(await queue.getLogs(id, { offset, limit })) }
      },
    )

    app.delete<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: idParams('id') } }, async (request, reply) => {
      const { id } = request.params
      const job = await queue.getJob(id)
      if (!job) return reply.code(404).send(apiError('E_NOT_FOUND', `no job '${id}'`))
      if (!(await queue.remove(id))) {
        return reply
          .code(409)
          .send(apiError('E_JOB_STARTED', `job '${id}' is ${job.state}: only jobs that have not started can be removed`))
      }
      scenarios.hub.publish('job', { id, state: 'removed' })
      return { id, removed: true }
    })

    app.get('/api/queues', async () => queueSnapshot(scenarios))

    app.post('/api/queues/jobs/retry-dead', async () => {
      const retried = await queue.retryDead({ limit: 1000 })
      scenarios.hub.publish('job', { state: 'waiting', retried })
      return { retried }
    })
    app.post('/api/queues/jobs/pause', async () => {
      await queue.pause()
      return { paused: true }
    })
    app.post('/api/queues/jobs/resume', async () => {
      await queue.resume()
      return { paused: false }
    })

    app.get('/api/schedules', async () => ({ schedules: await scenarios.rk.scheduler.list(QUEUE_NAME) }))

    app.post<{ Body: { id: string; everyMs?: number; cron?: string; kind: DemoJobData['kind'] } }>(
      '/api/schedules',
      {
        schema: {
          body: {
            type: 'object',
            required: ['id', 'kind'],
            additionalProperties: false,
            oneOf: [{ required: ['everyMs'] }, { required: ['cron'] }],
            properties: {
              id: idString,
              kind: { type: 'string', enum: ['ok', 'fail', 'slow'] },
              everyMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 },
              cron: { type: 'string', minLength: 9, maxLength: 100 },
            },
          },
        },
      },
      async (request, reply) => {
        const { id, everyMs, cron, kind } = request.body
        const result = await scenarios.rk.scheduler.repeat<DemoJobData>({
          queue: QUEUE_NAME,
          id,
          data: { kind },
          ...(everyMs === undefined ? {} : { everyMs }),
          ...(cron === undefined ? {} : { cron }),
        })
        return reply.code(201).send(result)
      },
    )

    app.delete<{ Params: { id: string } }>('/api/schedules/:id', { schema: { params: idParams('id') } }, async (request, reply) => {
      if (!(await scenarios.rk.scheduler.cancel(QUEUE_NAME, request.params.id))) {
        return reply.code(404).send(apiError('E_NOT_FOUND', `no schedule '${request.params.id}'`))
      }
      return { id: request.params.id, cancelled: true }
    })
  }
}

export async function queueSnapshot(scenarios: Scenarios) {
  const [counts, paused, dead, workers] = await Promise.all([
    scenarios.queue.counts(),
    scenarios.queue.isPaused(),
    scenarios.queue.jobs('dead', { limit: 20 }),
    scenarios.queue.workers(),
  ])
  return {
    name: QUEUE_NAME,
    paused,
    counts,
    outcomes: { ...scenarios.jobOutcomes },
    // Every process's workers of the queue (the registry), not only this service's.
    workers: workers.map(({ id, host, pid, concurrency, names, startedAt, lastSeenAt }) => ({
      id,
      host,
      pid,
      concurrency,
      names,
      startedAt,
      lastSeenAt,
      here: id === scenarios.worker?.id,
    })),
    dead: dead.map(({ id, attemptsMade, finishedAt, error }) => ({ id, attemptsMade, finishedAt, error: error?.message })),
  }
}
