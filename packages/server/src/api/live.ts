import type { FastifyPluginAsync } from 'fastify'
import type { Scenarios } from '../scenarios.js'
import { devicesSnapshot } from './devices.js'
import { inventorySnapshot } from './inventory.js'
import { queueSnapshot } from './jobs.js'
import { locksSnapshot } from './locks.js'
import { idParams, idString } from './schemas.js'
import type { SseStream, SseStreams } from './sse.js'
import { pageViewsSnapshot } from './stats.js'
import { cacheSnapshot } from './users.js'

interface ChatMessage {
  from: string
  text: string
  at: number
}

/** Everything the dashboard shows, in one answer (also pushed over `GET /api/events` as `snapshot`). */
export async function dashboardSnapshot(scenarios: Scenarios) {
  const [devices, inventory, queues, pageViews, leaderboard] = await Promise.all([
    devicesSnapshot(scenarios),
    inventorySnapshot(scenarios),
    queueSnapshot(scenarios),
    pageViewsSnapshot(scenarios, 30),
    scenarios.board.top(10),
  ])
  return {
    at: Date.now(),
    database: scenarios.databaseStatus(),
    devices,
    inventory,
    locks: locksSnapshot(scenarios).locks,
    queues,
    cache: cacheSnapshot(scenarios),
    expirations: scenarios.latenessSummary(),
    pageViews,
    leaderboard,
    rateLimit: { limit: scenarios.rateLimit, windowMs: scenarios.rateWindowMs, ...scenarios.rateDecisions },
  }
}

export interface LiveOptions {
  /** How often open event streams get a fresh snapshot. @defaultValue 1000 */
  snapshotIntervalMs?: number
}

/**
 * `GET /api/events`: the live stream of the dashboard (SSE). Every event the scenarios publish is
 * forwarded as it happens, and a `snapshot` of the whole dashboard follows every interval and soon
 * after each event (coalesced), computed once for all open streams.
 * `GET/POST /api/chat/:room`: chat rooms over redkit channels (pub/sub), streamed as SSE.
 */
export function liveRoutes(scenarios: Scenarios, streams: SseStreams, options: LiveOptions = {}): FastifyPluginAsync {
  return async (app) => {
    const intervalMs = options.snapshotIntervalMs ?? 1000
    const listeners = new Set<(snapshot: unknown) => void>()
    let computing: Promise<void> | undefined
    let again = false
    const refresh = () => {
      if (listeners.size === 0) return
      if (computing) {
        again = true
        return
      }
      computing = dashboardSnapshot(scenarios)
        .then((snapshot) => {
          for (const listener of listeners) listener(snapshot)
        })
        .catch((error: unknown) => app.log.warn({ err: error }, 'dashboard snapshot failed'))
        .finally(() => {
          computing = undefined
          if (again) {
            again = false
            setTimeout(refresh, 100).unref()
          }
        })
    }
    const timer = setInterval(refresh, intervalMs)
    timer.unref()
    const offHub = scenarios.hub.subscribe((event) => {
      if (event.type !== 'expiration' && event.type !== 'page-view') refresh()
    })
    app.addHook('onClose', async () => {
      clearInterval(timer)
      offHub()
      await computing
    })

    app.get('/api/dashboard', async () => dashboardSnapshot(scenarios))

    app.get('/api/events', async (request, reply) => {
      const stream = streams.open(request, reply)
      const onSnapshot = (snapshot: unknown) => stream.send('snapshot', snapshot)
      const off = scenarios.hub.subscribe((event) => stream.send(event.type, event))
      listeners.add(onSnapshot)
      stream.onClose(() => {
        off()
        listeners.delete(onSnapshot)
      })
      dashboardSnapshot(scenarios).then(onSnapshot, () => {})
    })

    app.get<{ Params: { room: string } }>('/api/chat/:room', { schema: { params: idParams('room') } }, async (request, reply) => {
      const channel = scenarios.rk.channel<ChatMessage>(`chat-${request.params.room}`)
      // Subscribe before answering, so a message published right after the stream opens is heard.
      let stream: SseStream | undefined
      const subscription = await channel.subscribe((message) => stream?.send('message', message))
      stream = streams.open(request, reply)
      stream.onClose(() => {
        subscription.close().catch(() => {})
      })
      stream.send('joined', { room: request.params.room })
    })

    app.post<{ Params: { room: string }; Body: { from: string; text: string } }>(
      '/api/chat/:room',
      {
        schema: {
          params: idParams('room'),
          body: {
            type: 'object',
            required: ['from', 'text'],
            additionalProperties: false,
            properties: { from: idString, text: { type: 'string', minLength: 1, maxLength: 500 } },
          },
        },
      },
      async (request, reply) => {
        const message: ChatMessage = { from: request.body.from, text: request.body.text, at: Date.now() }
        const receivers = await scenarios.rk.channel<ChatMessage>(`chat-${request.params.room}`).publish(message)
        return reply.code(202).send({ receivers })
      },
    )
  }
}
