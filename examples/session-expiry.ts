/**
 * Login sessions that end by themselves, and say so: a user signs in on a laptop and a phone; the
 * phone is left idle and its session expires; the expiry is reported once (with its user), and the
 * user's list of devices no longer shows it. Then "log out everywhere" ends the rest.
 *
 * The naive version keeps `SET session:<id> ... EX 1800` plus a `SADD user:<id>:sessions` set and
 * cleans the set from `__keyevent@0__:expired`: a listener that is down when a session expires never
 * cleans it, the set grows forever, and "log out everywhere" deletes what the stale set still names.
 *
 *   npx tsx examples/session-expiry.ts        # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { removeRunKeys } from './cleanup.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-sessions-${process.pid}` // one per run keeps runs apart
const started = Date.now()
const log = (text: string) => console.log(`[+${((Date.now() - started) / 1000).toFixed(2)}s] ${text}`)

const rk = await createRedkit({ url, prefix })
// A session ends after 1.5 s without a request (30 min in real life), and after 1 h in any case.
const sessions = rk.sessions<{ role: string }>({ name: 'shop', idleTimeoutMs: 1500, absoluteTimeoutMs: 3_600_000, trackExpiry: true })

// An audit log: every expiry once per group, even if this process had been down when it happened.
let expiries = 0
const audit = await sessions.onExpired(
  (e) => {
    expiries++
    log(`session ${e.id.slice(0, 6)}… of ${e.userId} expired (idle)`)
  },
  { group: 'audit' },
)

const laptop = await sessions.create('ada', { role: 'admin' }, { userAgent: 'Firefox on a laptop' })
const phone = await sessions.create('ada', { role: 'admin' }, { userAgent: 'Safari on a phone' })
log(`ada signed in on 2 devices: ${(await sessions.listForUser('ada')).map((s) => s.userAgent).join(', ')}`)

// The laptop keeps making requests; the phone is put away.
const browsing = setInterval(() => void sessions.get(laptop.token), 250)
await new Promise((resolve) => setTimeout(resolve, 3500))
clearInterval(browsing)
log(`phone session still valid: ${(await sessions.get(phone.token)) !== undefined}`)
log(`ada's devices now: ${(await sessions.listForUser('ada')).map((s) => s.userAgent).join(', ')}`)

// Password changed: log out everywhere.
log(`log out everywhere: ${await sessions.destroyAllForUser('ada')} session(s) ended`)
log(`done: ${expiries} expiry reported, laptop session valid: ${(await sessions.get(laptop.token)) !== undefined}`)

await audit.close()
await rk.close()
await removeRunKeys(url, prefix)
