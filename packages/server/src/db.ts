import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import path from 'node:path'
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
  /**
   * PGlite's data directory (created when missing; one process at a time, enforced by a lock file
   * beside it). Absent or `memory://`: in memory (gone when the database closes, reseeded at each
   * open). The service passes `PGLITE_DIR`, else {@link defaultPgliteDir}.
   */
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
  const dataDir = options.dataDir && options.dataDir !== MEMORY ? path.resolve(options.dataDir) : undefined
  const release = dataDir ? lockDataDir(dataDir) : () => {}
  try {
    const { PGlite } = await import('@electric-sql/pglite')
    const db = new PGlite(dataDir)
    try {
      await db.waitReady
      await migrateAndSeed(db, schema)
    } catch (error) {
      await db.close().catch(() => {})
      throw error
    }
    const where = dataDir ? `data in ${dataDir}` : 'in memory'
    return new SqlDemoDatabase(
      'pglite',
      `database: no DATABASE_URL; embedded PGlite (PostgreSQL in WebAssembly), ${where}, schema ${schema}`,
      db,
      schema,
      async () => {
        try {
          await db.close()
        } finally {
          release()
        }
      },
    )
  } catch (error) {
    release()
    throw error
  }
}

/** `PGLITE_DIR=memory://` (PGlite's own spelling): the embedded database lives in memory. */
export const MEMORY = 'memory://'

/**
 * Where the service keeps the embedded PGlite's data when `PGLITE_DIR` is not set: the user's data
 * directory, so it survives restarts (opening an existing directory takes a second or two;
 * creating one, as in-memory does at every start, takes 10-20 s on a loaded machine) and stays out
 * of the working tree. `$XDG_DATA_HOME/redkit/pglite` (else `~/.local/share/redkit/pglite`) on
 * Linux, `~/Library/Application Support/redkit/pglite` on macOS, `%LOCALAPPDATA%\redkit\pglite` on Windows.
 */
export function defaultPgliteDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home = homedir(),
): string {
  if (platform === 'win32') return path.win32.join(env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local'), 'redkit', 'pglite')
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', 'redkit', 'pglite')
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local', 'share')
  return path.join(xdg, 'redkit', 'pglite')
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * PGlite does not lock its directory, and two processes writing one corrupt it: `<dir>.lock` (beside
 * it, holding the pid) keeps a second service out. A lock whose process is gone (killed) is taken over.
 * @returns the release function
 */
const lockedHere = new Set<string>()

function lockDataDir(dir: string): () => void {
  const lock = `${dir}.lock`
  if (lockedHere.has(dir)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `the PGlite data directory ${dir} is open already in this process; close it first`)
  }
  mkdirSync(path.dirname(lock), { recursive: true })
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error
      const holder = Number.parseInt(readFileSync(lock, 'utf8'), 10)
      // Our own pid in it, but not locked here: a process before us had it (a restarted container).
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new RedkitError(
          ErrorCodes.E_INVALID_ARGUMENT,
          `the PGlite data directory ${dir} is in use by process ${holder} (${lock}); PGlite serves one process at a time: set PGLITE_DIR to another directory (or memory://), or DATABASE_URL`,
        )
      }
      rmSync(lock, { force: true })
    }
  }
  lockedHere.add(dir)
  let released = false
  return () => {
    if (released) return
    released = true
    lockedHere.delete(dir)
    try {
      if (readFileSync(lock, 'utf8') === String(process.pid)) rmSync(lock, { force: true })
    } catch {}
  }
}
