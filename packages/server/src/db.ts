import { ErrorCodes, RedkitError } from 'redkit'

/**
 * The demo database: the "source of truth" behind the service's caches. PostgreSQL either way:
 * PGlite (Postgres compiled to WebAssembly, nothing to install) by default, or a real server
 * through `pg` when `DATABASE_URL` is set. Both get the same schema and seed.
 */

export interface User {
  id: number
  name: string
  email: string
  updatedAt: string
}

export interface Product {
  id: string
  name: string
  priceCents: number
  /** Units the shop starts with (the live stock is in Redis, `rk.inventory`). */
  initialStock: number
}

export interface UserPatch {
  name?: string
  email?: string
}

export interface DemoDatabase {
  readonly kind: 'pglite' | 'postgres'
  /** One line for the console: which database and where (never a password). */
  readonly description: string
  getUser(id: number): Promise<User | undefined>
  /** @returns the updated user, or undefined when there is no such user */
  updateUser(id: number, patch: UserPatch): Promise<User | undefined>
  userIds(): Promise<number[]>
  products(): Promise<Product[]>
  /** Lookups served so far (the cache's loader calls land here). */
  readonly reads: number
  close(): Promise<void>
}

/** The users and products every fresh demo database holds. */
export const SEED_USERS = 200
export const SEED_PRODUCTS: readonly Product[] = [
  { id: 'keyboard', name: 'Mechanical keyboard', priceCents: 8900, initialStock: 20 },
  { id: 'mouse', name: 'Wireless mouse', priceCents: 2900, initialStock: 50 },
  { id: 'monitor', name: '27" monitor', priceCents: 24900, initialStock: 8 },
  { id: 'headset', name: 'Headset', priceCents: 5900, initialStock: 15 },
  { id: 'webcam', name: 'Webcam', priceCents: 4900, initialStock: 0 },
]

const FIRST = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances', 'Edsger', 'Radia']
const LAST = ['Lovelace', 'Hopper', 'Torvalds', 'Liskov', 'Thompson', 'Hamilton', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman']

/** Minimal query surface shared by PGlite and pg. */
interface Queryable {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>
}

/** A schema name: lower-case identifier, so it can be spliced into SQL safely. */
function schemaName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `database schema must be a lower-case SQL identifier, got '${name}'`)
  }
  return name
}

function ddl(schema: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    `CREATE TABLE IF NOT EXISTS ${schema}.users (
       id integer PRIMARY KEY,
       name text NOT NULL,
       email text NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE TABLE IF NOT EXISTS ${schema}.products (
       id text PRIMARY KEY,
       name text NOT NULL,
       price_cents integer NOT NULL CHECK (price_cents >= 0),
       initial_stock integer NOT NULL CHECK (initial_stock >= 0)
     )`,
  ]
}

async function migrateAndSeed(db: Queryable, schema: string): Promise<void> {
  for (const statement of ddl(schema)) await db.query(statement)
  const ids: number[] = []
  const names: string[] = []
  const emails: string[] = []
  for (let id = 1; id <= SEED_USERS; id++) {
    const first = FIRST[(id - 1) % FIRST.length] as string
    const last = LAST[Math.floor((id - 1) / FIRST.length) % LAST.length] as string
    ids.push(id)
    names.push(`${first} ${last}`)
    emails.push(`${first}.${last}.${id}@example.com`.toLowerCase())
  }
  // One statement each, idempotent: a second start (or a second service) changes nothing.
  await db.query(
    `INSERT INTO ${schema}.users (id, name, email)
     SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) ON CONFLICT (id) DO NOTHING`,
    [ids, names, emails],
  )
  await db.query(
    `INSERT INTO ${schema}.products (id, name, price_cents, initial_stock)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) ON CONFLICT (id) DO NOTHING`,
    [
      SEED_PRODUCTS.map((p) => p.id),
      SEED_PRODUCTS.map((p) => p.name),
      SEED_PRODUCTS.map((p) => p.priceCents),
      SEED_PRODUCTS.map((p) => p.initialStock),
    ],
  )
}

interface UserRow {
  id: number
  name: string
  email: string
  updated_at: Date | string
}

function toUser(row: UserRow): User {
  return {
    id: Number(row.id),
    name: row.name,
    email: row.email,
    updatedAt: (row.updated_at instanceof Date ? row.updated_at : new Date(row.updated_at)).toISOString(),
  }
}

class SqlDemoDatabase implements DemoDatabase {
  reads = 0
  constructor(
    readonly kind: 'pglite' | 'postgres',
    readonly description: string,
    private readonly db: Queryable,
    private readonly schema: string,
    private readonly closer: () => Promise<void>,
  ) {}

  async getUser(id: number): Promise<User | undefined> {
    this.reads++
    const { rows } = await this.db.query<UserRow>(`SELECT id, name, email, updated_at FROM ${this.schema}.users WHERE id = $1`, [id])
    return rows[0] ? toUser(rows[0]) : undefined
  }

  async updateUser(id: number, patch: UserPatch): Promise<User | undefined> {
    const { rows } = await this.db.query<UserRow>(
      `UPDATE ${this.schema}.users SET name = COALESCE($2, name), email = COALESCE($3, email), updated_at = now()
       WHERE id = $1 RETURNING id, name, email, updated_at`,
      [id, patch.name ?? null, patch.email ?? null],
    )
    return rows[0] ? toUser(rows[0]) : undefined
  }

  async userIds(): Promise<number[]> {
    const { rows } = await this.db.query<{ id: number }>(`SELECT id FROM ${this.schema}.users ORDER BY id`)
    return rows.map((row) => Number(row.id))
  }

  async products(): Promise<Product[]> {
    const { rows } = await this.db.query<{ id: string; name: string; price_cents: number; initial_stock: number }>(
      `SELECT id, name, price_cents, initial_stock FROM ${this.schema}.products ORDER BY id`,
    )
    return rows.map((row) => ({ id: row.id, name: row.name, priceCents: Number(row.price_cents), initialStock: Number(row.initial_stock) }))
  }

  close(): Promise<void> {
    return this.closer()
  }
}

export interface OpenDatabaseOptions {
  /** `postgres://...`: a real server through `pg`. Empty or absent: PGlite. */
  databaseUrl?: string | undefined
  /** PGlite's data directory; absent: in memory (gone when the service stops). */
  dataDir?: string | undefined
  /** The schema holding the demo tables. @defaultValue 'redkit_demo' */
  schema?: string
}

/** A database URL safe to print (password replaced by `***`). */
export function displayDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.href
  } catch {
    return url.replace(/\/\/\S*@/, '//***@')
  }
}

/** Opens (and creates and seeds, idempotently) the demo database. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<DemoDatabase> {
  const schema = schemaName(options.schema ?? 'redkit_demo')
  if (options.databaseUrl) {
    const shown = displayDatabaseUrl(options.databaseUrl)
    const { default: pg } = await import('pg')
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, connectionTimeoutMillis: 5000 })
    // An idle client that errors (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => {})
    try {
      await migrateAndSeed(pool, schema)
    } catch (error) {
      await pool.end().catch(() => {})
      const message = error instanceof Error ? error.message : String(error)
      throw new RedkitError(ErrorCodes.E_CONNECTION, `cannot use the database at ${shown} (DATABASE_URL): ${message}`, { cause: error })
    }
    return new SqlDemoDatabase('postgres', `database: PostgreSQL at ${shown} (DATABASE_URL), schema ${schema}`, pool, schema, () =>
      pool.end(),
    )
  }
  const { PGlite } = await import('@electric-sql/pglite')
  const db = new PGlite(options.dataDir)
  await db.waitReady
  await migrateAndSeed(db, schema)
  const where = options.dataDir ? `data in ${options.dataDir}` : 'in memory'
  return new SqlDemoDatabase(
    'pglite',
    `database: no DATABASE_URL; embedded PGlite (PostgreSQL in WebAssembly), ${where}, schema ${schema}`,
    db,
    schema,
    () => db.close(),
  )
}
