import type { FastifyPluginAsync } from 'fastify'
import type { Scenarios } from '../scenarios.js'
import { apiError } from './errors.js'
import { idParams } from './schemas.js'

/**
 * Devices (presence): heartbeats, the online list with the recently offline, and a simulator that
 * sends heartbeats for you.
 */
export function deviceRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { id: string }; Body: { firmware?: string } | undefined }>(
      '/api/devices/:id/heartbeat',
      {
        schema: {
          params: idParams('id'),
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { firmware: { type: 'string', maxLength: 64 } },
          },
        },
      },
      async (request) => {
        const { id } = request.params
        const meta = request.body?.firmware === undefined ? undefined : { firmware: request.body.firmware }
        const cameOnline = await scenarios.devices.beat(id, meta)
        return { id, cameOnline, ttlMs: scenarios.deviceTtlMs }
      },
    )

    app.get('/api/devices', async () => devicesSnapshot(scenarios))

    for (const action of ['start', 'stop', 'kill'] as const) {
      app.post<{ Params: { id: string } }>(
        `/api/simulator/devices/:id/${action}`,
        { schema: { params: idParams('id') } },
        async (request, reply) => {
          const { id } = request.params
          if (action === 'start') {
            const started = await scenarios.startDevice(id)
            return reply.code(started ? 201 : 200).send({ id, running: true, started })
          }
          if (!scenarios.stopDevice(id, action === 'kill')) {
            return reply.code(404).send(apiError('E_NOT_FOUND', `no simulated device '${id}'`))
          }
          return { id, running: false, killed: action === 'kill' }
        },
      )
    }
  }
}

export async function devicesSnapshot(scenarios: Scenarios) {
  const online = await scenarios.devices.online()
  const onlineIds = new Set(online.map((member) => member.id))
  return {
    ttlMs: scenarios.deviceTtlMs,
    online: online.map(({ id, since, lastBeat, deadline }) => ({ id, since, lastBeat, deadline })),
    offline: [...scenarios.offline.values()].filter((device) => !onlineIds.has(device.id)).reverse(),
    simulated: [...scenarios.simulated.values()].map((device) => ({
      id: device.id,
      running: device.timer !== undefined,
      beats: device.beats,
    })),
  }
}
