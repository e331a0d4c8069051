import type { FastifyPluginAsync } from 'fastify'

/** `GET /metrics`: Prometheus text exposition of the app's own registry. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', async (_request, reply) => {
    const { registry } = app.metrics
    const text = await registry.metrics()
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(text)
  })
}
