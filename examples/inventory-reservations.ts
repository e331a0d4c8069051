/**
 * Inventory reservations: five shoppers race for three tickets; nobody oversells, a cancelled
 * reservation and one simply abandoned both give their ticket back (the abandoned one by itself,
 * when it lapses), and a late confirm of the lapsed one is refused.
 *
 * The naive version decrements a counter and hopes every cart is either bought or released: a
 * shopper who closes the tab keeps the stock forever, and a crash between "reserve" and "remember
 * to release" loses it. Here a reservation is one script that never goes below zero, and its lapse
 * is a reliable expiry event that returns the units even if every process was down at the time.
 *
 *   npx tsx examples/inventory-reservations.ts      # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { removeRunKeys } from './cleanup.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-inventory-${process.pid}`
const LAPSE_MS = 800
const started = Date.now()
const log = (text: string) => console.log(`[+${((Date.now() - started) / 1000).toFixed(2)}s] ${text}`)

const rk = await createRedkit({ url, prefix })
const shop = rk.inventory('shop', { lapseMs: LAPSE_MS })
await shop.setStock('ticket', 3)
log(`stock: ${await shop.available('ticket')} tickets`)

// Five shoppers at once: three get a ticket, two are told it is sold out.
const shoppers = ['ann', 'bob', 'cy', 'dana', 'eve']
const reservations = await Promise.all(shoppers.map((user) => shop.reserve('ticket', 1, user, { id: `cart-${user}` })))
const held = reservations.filter((r) => r !== undefined)
for (const [i, reservation] of reservations.entries()) {
  log(
    reservation
      ? `${shoppers[i]} reserved a ticket until +${((reservation.expiresAt - started) / 1000).toFixed(2)}s`
      : `${shoppers[i]}: sold out`,
  )
}
log(`reserved: ${held.length}, available: ${await shop.available('ticket')}`)

const [buyer, canceller, walker] = held as [(typeof held)[0], (typeof held)[0], (typeof held)[0]]
if (!buyer || !canceller || !walker) throw new Error('expected three reservations')
log(`${buyer.user} confirms: ${await shop.confirm('ticket', buyer.id)}`)
log(`${canceller.user} cancels: ${await shop.cancel('ticket', canceller.id)}; available: ${await shop.available('ticket')}`)
log(`${walker.user} closes the tab...`)

const deadline = Date.now() + LAPSE_MS + 5000
while ((await shop.available('ticket')) < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
log(`${walker.user}'s reservation lapsed; available: ${await shop.available('ticket')}`)
log(`${walker.user} confirms too late: ${await shop.confirm('ticket', walker.id)}`)
log(`done: sold 1, available ${await shop.available('ticket')}, never oversold`)

await rk.close()
await removeRunKeys(url, prefix)
