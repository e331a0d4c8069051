import type { FastifyPluginAsync } from 'fastify'
import type { Scenarios } from '../scenarios.js'
import { requireDatabase } from './database.js'
import { apiError } from './errors.js'
import { idParams, idString } from './schemas.js'

/** Inventory: stock per product, reservations that lapse back into stock, confirm and cancel. */
export function inventoryRoutes(scenarios: Scenarios): FastifyPluginAsync {
  return async (app) => {
    // The catalog (which products exist, their names and prices) is in the database.
    app.addHook('preHandler', requireDatabase(scenarios))
    const known = (product: string) => scenarios.products.some((p) => p.id === product)

    app.get('/api/inventory', async () => inventorySnapshot(scenarios))

    app.post<{ Params: { product: string }; Body: { qty: number; user: string; id?: string } }>(
      '/api/inventory/:product/reserve',
      {
        schema: {
          params: idParams('product'),
          body: {
            type: 'object',
            required: ['qty', 'user'],
            additionalProperties: false,
            properties: { qty: { type: 'integer', minimum: 1, maximum: 1000 }, user: idString, id: idString },
          },
        },
      },
      async (request, reply) => {
        const { product } = request.params
        if (!known(product)) return reply.code(404).send(apiError('E_NOT_FOUND', `no product '${product}'`))
        const { qty, user, id } = request.body
        const reservation = await scenarios.inventory.reserve(product, qty, user, id === undefined ? {} : { id })
        if (!reservation) {
          const available = await scenarios.inventory.available(product)
          return reply.code(409).send(apiError('E_OUT_OF_STOCK', `only ${available} of '${product}' available, ${qty} asked`))
        }
        scenarios.reservations.set(`${product}/${reservation.id}`, reservation)
        scenarios.hub.publish('inventory', { product, reserved: qty, id: reservation.id })
        return reply.code(201).send({ reservation, available: await scenarios.inventory.available(product) })
      },
    )

    app.post<{ Params: { product: string }; Body: { units: number } }>(
      '/api/inventory/:product/restock',
      {
        schema: {
          params: idParams('product'),
          body: {
            type: 'object',
            required: ['units'],
            additionalProperties: false,
            properties: { units: { type: 'integer', minimum: 1, maximum: 10_000 } },
          },
        },
      },
      async (request, reply) => {
        const { product } = request.params
        if (!known(product)) return reply.code(404).send(apiError('E_NOT_FOUND', `no product '${product}'`))
        const available = await scenarios.inventory.addStock(product, request.body.units)
        scenarios.hub.publish('inventory', { product, restocked: request.body.units })
        return { product, available }
      },
    )

    for (const op of ['confirm', 'cancel'] as const) {
      app.post<{ Params: { product: string }; Body: { id: string } }>(
        `/api/inventory/:product/${op}`,
        {
          schema: {
            params: idParams('product'),
            body: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: idString } },
          },
        },
        async (request, reply) => {
          const { product } = request.params
          if (!known(product)) return reply.code(404).send(apiError('E_NOT_FOUND', `no product '${product}'`))
          const { id } = request.body
          const done = op === 'confirm' ? await scenarios.inventory.confirm(product, id) : await scenarios.inventory.cancel(product, id)
          scenarios.reservations.delete(`${product}/${id}`)
          if (!done)
            return reply.code(409).send(apiError('E_NOT_RESERVED', `reservation '${id}' of '${product}' has lapsed or was settled already`))
          scenarios.hub.publish('inventory', { product, [op === 'confirm' ? 'confirmed' : 'cancelled']: id })
          return {
            id,
            product,
            [op === 'confirm' ? 'confirmed' : 'cancelled']: true,
            available: await scenarios.inventory.available(product),
          }
        },
      )
    }
  }
}

export async function inventorySnapshot(scenarios: Scenarios) {
  const reservations = scenarios.liveReservations()
  const products = await Promise.all(
    scenarios.products.map(async (product) => ({
      ...product,
      available: await scenarios.inventory.available(product.id),
      reserved: reservations.filter((r) => r.product === product.id).reduce((sum, r) => sum + r.qty, 0),
    })),
  )
  return { lapseMs: scenarios.reservationLapseMs, products, reservations }
}
