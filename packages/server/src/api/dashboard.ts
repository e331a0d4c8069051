import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { apiError } from './errors.js'

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

/**
 * Where the built dashboard is: `dist/web` next to the compiled service, or, when the service runs
 * from its sources (tests, tsx), the package's `dist/web`. Undefined when it was never built.
 */
export function defaultDashboardDir(): string | undefined {
  const candidates = [new URL('../web/', import.meta.url), new URL('../../dist/web/', import.meta.url)].map((url) => fileURLToPath(url))
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html')))
}

/**
 * `GET /`: the dashboard (built by Vite from `packages/server/web/` into `dist/web/`), and its
 * content-hashed assets under `/assets/` (cached for a year). Only file names of the build are
 * served: no path separators, nothing outside the directory.
 */
export function dashboardRoutes(dir: string | undefined): FastifyPluginAsync {
  return async (app) => {
    const notBuilt = apiError(
      'E_NOT_BUILT',
      'the dashboard is not built: run `npm run build -w @redkit/server` (npm start does it), then reload',
    )
    app.get('/', async (_request, reply) => {
      if (!dir) return reply.code(503).send(notBuilt)
      try {
        const html = await readFile(path.join(dir, 'index.html'))
        return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html)
      } catch {
        return reply.code(503).send(notBuilt)
      }
    })
    app.get<{ Params: { file: string } }>(
      '/assets/:file',
      {
        schema: {
          params: { type: 'object', properties: { file: { type: 'string', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\\.[a-z0-9]+$' } } },
        },
      },
      async (request, reply) => {
        const type = TYPES[path.extname(request.params.file)]
        if (!dir || !type) return reply.code(404).send(apiError('E_NOT_FOUND', `no asset ${request.params.file}`))
        try {
          const body = await readFile(path.join(dir, 'assets', request.params.file))
          return reply.header('cache-control', 'public, max-age=31536000, immutable').type(type).send(body)
        } catch {
          return reply.code(404).send(apiError('E_NOT_FOUND', `no asset ${request.params.file}`))
        }
      },
    )
  }
}
