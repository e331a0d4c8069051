/**
 * Single sign-on between two Express apps on different ports: a user signs in once, at the mail
 * app, and the docs app lets them in without a second login; logging out of docs logs them out of
 * mail too.
 *
 * A browser sends a host's cookies to every port of it, so both apps see one shared cookie, `sso`
 * (the global login's token), and each keeps its own session cookie (`mail_sid`, `docs_sid`). An
 * app with no session of its own but a live `sso` cookie joins the login: `sso.join(token)`. Every
 * request reads the app's session with the global login (`sso.get`), so a logout anywhere, "log out
 * everywhere", or the global login's idle or absolute timeout ends the session in every app.
 *
 * The naive version shares one session store between the apps: every app then reads (and can
 * overwrite) every other app's data, and one app's logout leaves the others' sessions alive.
 *
 *   npx tsx examples/sso-two-apps.ts        # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import type { AddressInfo } from 'node:net'
import express, { type Request, type Response } from 'express'
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { removeRunKeys } from './cleanup.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-sso-${process.pid}` // one per run keeps runs apart
const log = (text: string) => console.log(text)

/** One cookie value from a request's Cookie header. */
function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name) return decodeURIComponent(value.join('='))
  }
  return undefined
}

/** One app of the realm: its own redkit (as a separate service would have), its own cookie, the shared `sso` one. */
async function startApp(app: 'mail' | 'docs') {
  const rk = await createRedkit({ url, prefix })
  const sso = rk.sso<{ visits: number }>({
    app,
    realm: 'example',
    secret: 'an example secret; use a long random one',
    global: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3_600_000 },
    local: { idleTimeoutMs: 15 * 60_000, absoluteTimeoutMs: 12 * 3_600_000 },
  })
  const own = `${app}_sid`
  const cookie = { httpOnly: true, sameSite: 'lax', path: '/' } as const
  const server = express()

  /** This app's session: its own cookie, or a join of the global login the `sso` cookie names. */
  const sessionOf = async (req: Request, res: Response) => {
    const token = cookieOf(req, own)
    const current = token === undefined ? undefined : await sso.get(token)
    if (current) return { ...current, joined: false }
    const login = cookieOf(req, 'sso')
    const joined = login === undefined ? undefined : await sso.join(login, { visits: 0 })
    if (!joined) return undefined
    res.cookie(own, joined.app.token, cookie)
    return { ...joined, joined: true }
  }

  server.post('/login', async (req, res) => {
    const login = await sso.login(String(req.query.user), { visits: 0 })
    res.cookie('sso', login.global.token as string, cookie).cookie(own, login.app.token, cookie)
    res.send(`${app}: signed in as ${login.app.userId}`)
  })
  server.get('/', async (req, res) => {
    const session = await sessionOf(req, res)
    if (!session) return void res.status(401).send(`${app}: please sign in`)
    const visits = session.app.data.visits + 1
    await sso.update(session.app.token, { visits })
    res.send(`${app}: hello ${session.app.userId}${session.joined ? ' (joined the login, no password asked)' : ''}, visit ${visits}`)
  })
  server.get('/devices', async (req, res) => {
    const session = await sessionOf(req, res)
    if (!session) return void res.status(401).send(`${app}: please sign in`)
    const view = await sso.view(session.app.userId as string)
    const apps = Object.entries(view.apps).map(([name, sessions]) => `${name} ${sessions.length}`)
    res.send(`${app}: ${view.global.length} login(s); sessions per app: ${apps.join(', ')}`)
  })
  server.post('/logout', async (req, res) => {
    const token = cookieOf(req, own)
    // The shared cookie too: this app's own session may have timed out before the login did.
    const ended = token !== undefined && (await sso.logout(token, { globalToken: cookieOf(req, 'sso') }))
    res
      .clearCookie(own, cookie)
      .clearCookie('sso', cookie)
      .send(`${app}: ${ended ? 'signed out of every app' : 'was not signed in'}`)
  })

  const listening = server.listen(Number(process.env[`${app.toUpperCase()}_PORT`] ?? 0), '127.0.0.1')
  await new Promise((resolve) => listening.once('listening', resolve))
  const port = (listening.address() as AddressInfo).port
  return {
    sso,
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise((resolve) => listening.close(resolve))
      await rk.close()
    },
  }
}

/** A browser: one cookie jar per host, sent to every port of it. */
function browser() {
  const jar = new Map<string, string>()
  return async (method: 'GET' | 'POST', target: string) => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
    const res = await fetch(target, { method, headers: cookie ? { cookie } : {} })
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';')
      const [name = '', value = ''] = pair.split('=')
      if (value === '' || attributes.some((a) => /expires=Thu, 01 Jan 1970/i.test(a))) jar.delete(name)
      else jar.set(name, value)
    }
    return `${res.status} ${await res.text()}`
  }
}

const mail = await startApp('mail')
const docs = await startApp('docs')
log(`mail on ${mail.base}, docs on ${docs.base}`)
try {
  const ada = browser()
  log(`docs before signing in: ${await ada('GET', `${docs.base}/`)}`)
  log(`mail login: ${await ada('POST', `${mail.base}/login?user=ada`)}`)
  log(`mail: ${await ada('GET', `${mail.base}/`)}`)
  log(`docs: ${await ada('GET', `${docs.base}/`)}`)
  log(`docs: ${await ada('GET', `${docs.base}/`)}`)
  log(`devices: ${await ada('GET', `${docs.base}/devices`)}`)

  const phone = browser()
  await phone('POST', `${docs.base}/login?user=ada`)
  log(`devices with a phone too: ${await ada('GET', `${mail.base}/devices`)}`)

  log(`docs logout: ${await ada('POST', `${docs.base}/logout`)}`)
  // The browser still holds its mail cookie: the login it belonged to has ended, so it is refused.
  log(`mail after logout in docs: ${await ada('GET', `${mail.base}/`)}`)
  log(`phone still signed in: ${await phone('GET', `${mail.base}/`)}`)
  log(`done: "log out everywhere" ended the ${await mail.sso.logoutEverywhere('ada')} session(s) left`)
} finally {
  await Promise.all([mail.close(), docs.close()])
  await removeRunKeys(url, prefix)
}
