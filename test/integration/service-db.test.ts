import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type DemoDatabase,
  defaultPgliteDir,
  MEMORY,
  openDatabase,
  resolveServeConfig,
  SEED_PRODUCTS,
  SEED_USERS,
} from '../../packages/server/src/index.js'
import { errorCode } from '../support/expect.js'

// The demo database behind the service's caches: the same schema and seed on the embedded PGlite
// and on a real PostgreSQL (the one at 127.0.0.1:5432, trust auth, database `test`, when it is there).
const PG_URL = process.env.REDKIT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

async function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 5432) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

const postgresThere = await reachable(PG_URL)

function contract(
  name: string,
  open: (schema: string) => Promise<DemoDatabase>,
  cleanup: (schema: string) => Promise<void>,
  options: { exclusive?: boolean } = {},
) {
  describe(name, () => {
    const schema = `t_${randomBytes(4).toString('hex')}`
    let db: DemoDatabase | undefined

    afterAll(async () => {
      await db?.close().catch(() => {})
      await cleanup(schema)
    })

    it('creates the schema and seeds users and products', { timeout: 150_000 }, async () => {
      db = await open(schema)
      expect(await db.userIds()).toHaveLength(SEED_USERS)
      expect((await db.products()).map((p) => p.id)).toEqual(SEED_PRODUCTS.map((p) => p.id).sort())
      const user = await db.getUser(1)
      expect(user).toMatchObject({ id: 1, name: expect.any(String), email: expect.stringMatching(/@example\.com$/) })
      expect(Number.isNaN(Date.parse(user?.updatedAt ?? ''))).toBe(false)
      expect(await db.getUser(SEED_USERS + 1)).toBeUndefined()
      expect(db.reads).toBe(2)
    })

    it('updates a user (and only the fields given); an unknown user is undefined', async () => {
      if (!db) throw new Error('not opened')
      const before = await db.getUser(2)
      const after = await db.updateUser(2, { email: 'new@example.org' })
      expect(after).toMatchObject({ id: 2, name: before?.name, email: 'new@example.org' })
      expect(await db.getUser(2)).toEqual(after)
      expect(await db.updateUser(SEED_USERS + 5, { name: 'x' })).toBeUndefined()
      // Values are parameters, never SQL.
      await db.updateUser(3, { name: "Robert'); DROP TABLE users;--" })
      expect((await db.getUser(3))?.name).toBe("Robert'); DROP TABLE users;--")
      expect(await db.userIds()).toHaveLength(SEED_USERS)
    })

    it('closed and opened again, it keeps the data (the seed is idempotent)', async () => {
      await db?.close()
      db = await open(schema)
      expect((await db.getUser(2))?.email).toBe('new@example.org')
      expect(await db.userIds()).toHaveLength(SEED_USERS)
    })

    it.runIf(options.exclusive)('a second open of the same directory is refused while it is open (PGlite serves one process)', async () => {
      const error = await open(schema).catch((e: Error) => e)
      expect((error as { code?: string }).code).toBe('E_INVALID_ARGUMENT')
      expect((error as Error).message).toMatch(/is open already in this process/)
      expect((await db?.getUser(2))?.email).toBe('new@example.org')
    })
  })
}

describe('demo database', () => {
  it('refuses a schema name that is not a plain identifier', async () => {
    expect(await errorCode(openDatabase({ schema: 'x; DROP SCHEMA public' }))).toBe('E_INVALID_ARGUMENT')
  })

  it('a database URL that cannot be reached fails with E_CONNECTION and no password', async () => {
    const error = await openDatabase({ databaseUrl: 'postgres://demo:s3cret-pw@127.0.0.1:1/nothing' }).catch((e: Error) => e)
    expect((error as { code?: string }).code).toBe('E_CONNECTION')
    expect((error as Error).message).toContain('postgres://demo:***@127.0.0.1:1/nothing')
    expect((error as Error).message).not.toContain('s3cret-pw')
  })

  // PGlite on disk, so that closing and opening again is the service's restart.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'redkit-pglite-'))
  contract(
    'PGlite (embedded)',
    (schema) => openDatabase({ dataDir, schema }),
    async () => rmSync(dataDir, { recursive: true, force: true }),
    { exclusive: true },
  )

  it('the service keeps PGlite in the user data directory unless PGLITE_DIR says otherwise', () => {
    const home = '/home/ada'
    expect(resolveServeConfig({}, { HOME: home, XDG_DATA_HOME: '/data/xdg' }).pgliteDir).toBe('/data/xdg/redkit/pglite')
    expect(resolveServeConfig({}, { PGLITE_DIR: '/srv/pg', XDG_DATA_HOME: '/data/xdg' }).pgliteDir).toBe('/srv/pg')
    expect(resolveServeConfig({}, { PGLITE_DIR: MEMORY }).pgliteDir).toBe('memory://')
    expect(defaultPgliteDir({}, 'linux', home)).toBe('/home/ada/.local/share/redkit/pglite')
    // A relative XDG_DATA_HOME is invalid by the XDG spec and ignored.
    expect(defaultPgliteDir({ XDG_DATA_HOME: 'rel' }, 'linux', home)).toBe('/home/ada/.local/share/redkit/pglite')
    expect(defaultPgliteDir({}, 'darwin', '/Users/ada')).toBe('/Users/ada/Library/Application Support/redkit/pglite')
    expect(defaultPgliteDir({ LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, 'win32', 'C:\\Users\\ada')).toBe(
      'C:\\Users\\ada\\AppData\\Local\\redkit\\pglite',
    )
  })

  describe.skipIf(!postgresThere)('PostgreSQL (DATABASE_URL)', () => {
    contract('pg', (schema) => openDatabase({ databaseUrl: PG_URL, schema }), dropSchema)

    it('says which server it uses, without the password', async () => {
      const db = await openDatabase({ databaseUrl: PG_URL, schema: 'redkit_demo_probe' })
      try {
        expect(db.kind).toBe('postgres')
        expect(db.description).toContain('127.0.0.1:5432')
      } finally {
        await db.close()
        await dropSchema('redkit_demo_probe')
      }
    })
  })
})

async function dropSchema(schema: string): Promise<void> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await client.end()
  }
}
