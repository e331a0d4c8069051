/**
 * Cache reload on expiry: a product is cached under `cache:products:1` with a TTL, and when the entry
 * expires a handler reloads it from the database, so the next reader finds it warm.
 *
 * With raw keyspace notifications a reload is lost whenever the listener is down when the key
 * expires; here the expiry waits in a stream until a process of the group handles it (at least
 * once per group, de-duplicate with `event.id`).
 *
 *   npx tsx examples/cache-reload-on-expiry.ts        # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { removeKeys } from './cleanup.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
// redkit's own bookkeeping (deadline index, event stream) lives under this prefix; one per run keeps runs apart.
const prefix = `example-cache-${process.pid}`
const KEY = 'cache:products:1'
const TTL_MS = 1000
const started = Date.now()
const log = (text: string) => console.log(`[+${((Date.now() - started) / 1000).toFixed(2)}s] ${text}`)

// The "database": the source of truth behind the cache.
const db = new Map([[1, { id: 1, name: 'Espresso machine', price: 199 }]])
let loads = 0
async function loadProduct(id: number) {
  loads++
  await new Promise((resolve) => setTimeout(resolve, 20)) // a query takes a while
  return { ...db.get(id), loadedAt: new Date().toISOString() }
}

const rk = await createRedkit({ url, prefix })

// 1. Listen for expirations of product entries. The handler gets the value the key held (withValue).
let reloads = 0
let finish: () => void = () => {}
const finished = new Promise<void>((resolve) => {
  finish = resolve
})
const subscription = await rk.expirations.on<{ price: number }>(
  'cache:products:*',
  async (event) => {
    log(`${event.key} expired ${event.lateMs} ms after its deadline (it held price ${event.value?.price})`)
    const product = await loadProduct(Number(event.key.split(':').pop()))
    reloads++
    if (reloads < 3) {
      await rk.expirations.set(event.key, product, { ttlMs: TTL_MS })
      log(`  reloaded from the database (load #${loads}): price ${product.price}, cached for ${TTL_MS} ms`)
    } else {
      await rk.expirations.set(event.key, product, { ttlMs: 60_000 })
      log(`  reloaded from the database (load #${loads}): price ${product.price}; that will do for this demo`)
      finish()
    }
  },
  { withValue: true },
)

// 2. Warm the cache: the key and its deadline are written in one step.
const first = await loadProduct(1)
await rk.expirations.set(KEY, first, { ttlMs: TTL_MS })
log(`cached ${KEY} (price ${first.price}) for ${TTL_MS} ms`)

// 3. Meanwhile the price changes in the database; the next reload picks it up.
setTimeout(() => {
  db.set(1, { id: 1, name: 'Espresso machine', price: 179 })
  log('the price changes to 179 in the database')
}, 1500)

await finished
log(`done: ${reloads} expirations, ${reloads} reloads, ${loads} database loads`)

// Tidy up: the cache entry, then this run's bookkeeping keys.
await subscription.close()
await rk.expirations.delete(KEY)
await removeKeys(rk, `${prefix}:*`)
await rk.close()
