import { expect, it } from 'vitest'
import type { SsoOptions } from '../../src/session/index.js'
import { errorCode } from '../support/expect.js'
import { onEveryTopology } from '../support/topology.js'
import { eventually, sleep } from '../support/wait.js'

const SECRET = 'a secret of at least sixteen characters'
let seq = 0

onEveryTopology('single sign-on', (t) => {
  /** Two applications of one fresh realm. */
  const realm = (options: Omit<SsoOptions, 'app'> = {}) => {
    const name = `r${++seq}`
    return {
      mail: t.rk.sso<{ inbox: number }>({ ...options, app: 'mail', realm: name }),
      docs: t.rk.sso<{ folder: string }>({ ...options, app: 'docs', realm: name }),
    }
  }
  const keysOf = async (pattern: string) => {
    const found: string[] = []
    for (const node of t.rk.connection.masters()) {
      let cursor = '0'
      do {
        const [next, keys] = await node.send<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])
        cursor = String(next)
        found.push(...keys)
      } while (cursor !== '0')
    }
    return found
  }

  it('a login in one app is joined by another; each reads its own session with the global login; the view combines them', async () => {
    const { mail, docs } = realm({ secret: SECRET })
    const login = await mail.login('ada', { inbox: 3 }, { userAgent: 'Firefox' })
    expect(login.app.userId).toBe('ada')
    expect(login.app.data).toEqual({ inbox: 3 })
    expect(login.global.userId).toBe('ada')
    expect(login.global.token).toEqual(expect.any(String))
    expect(login.app.token).not.toBe(login.global.token)

    const joined = await docs.join(login.global.token as string, { folder: '/' }, { userAgent: 'Firefox' })
    expect(joined?.app.userId).toBe('ada')
    expect(joined?.app.data).toEqual({ folder: '/' })
    expect(joined?.global).not.toHaveProperty('token')
    expect(joined?.global.expiresAt).toBeGreaterThan(Date.now())

    const inMail = await mail.get(login.app.token)
    const inDocs = await docs.get(joined?.app.token as string)
    expect(inMail?.app.data).toEqual({ inbox: 3 })
    expect(inDocs?.app.data).toEqual({ folder: '/' })
    expect(inMail?.global).not.toHaveProperty('token')
    expect(inMail?.global).not.toHaveProperty('csrfToken')
    // Each application's token is its own: one app's token, or the global one, is no session of another.
    expect(await docs.get(login.app.token)).toBeUndefined()
    expect(await mail.get(login.global.token as string)).toBeUndefined()
    expect(await mail.join(login.app.token, { inbox: 0 })).toBeUndefined()

    expect(await docs.update(joined?.app.token as string, { folder: '/reports' })).toBe(true)
    expect((await docs.get(joined?.app.token as string))?.app.data).toEqual({ folder: '/reports' })

    const view = await docs.view('ada')
    expect(view.global).toHaveLength(1)
    expect(view.global[0]).toMatchObject({ userId: 'ada', userAgent: 'Firefox', handle: expect.any(String) })
    expect(Object.keys(view.apps)).toEqual(['docs', 'mail'])
    expect(view.apps.mail?.map((s) => s.handle)).toEqual([mail.handleOf(login.app.token)])
    expect(view.apps.docs?.map((s) => s.handle)).toEqual([docs.handleOf(joined?.app.token as string)])
    // No token or data is ever listed.
    expect(JSON.stringify(view)).not.toContain(login.app.token.split('.')[0])
    expect(JSON.stringify(view)).not.toContain('reports')
  })

  it('logout in one app ends the login in every app, and leaves the same user’s other browser logged in', async () => {
    const { mail, docs } = realm()
    const laptop = await mail.login('bob', { inbox: 1 })
    const laptopDocs = await docs.join(laptop.global.token as string, { folder: '/' })
    const phone = await docs.login('bob', { folder: '/phone' })
    const phoneMail = await mail.join(phone.global.token as string, { inbox: 2 })

    expect(await docs.logout(laptopDocs?.app.token as string)).toBe(true)
    expect(await docs.get(laptopDocs?.app.token as string)).toBeUndefined()
    expect(await mail.get(laptop.app.token)).toBeUndefined()
    expect(await mail.join(laptop.global.token as string, { inbox: 0 })).toBeUndefined()
    expect(await docs.logout(laptopDocs?.app.token as string)).toBe(false)
    // The phone's login is another global session: untouched.
    expect((await mail.get(phoneMail?.app.token as string))?.app.data).toEqual({ inbox: 2 })
    expect((await docs.get(phone.app.token))?.app.data).toEqual({ folder: '/phone' })
    const view = await mail.view('bob')
    expect(view.global).toHaveLength(1)
    expect(view.apps.mail).toHaveLength(1)
    expect(view.apps.docs).toHaveLength(1)
    // The laptop's sessions are gone from Redis, not only unreadable: 1 global + 2 app sessions stay.
    expect(await keysOf(`${t.prefix}:{session:${mail.realm}.*:id:*}:s`)).toHaveLength(3)
  })

  it('logout everywhere ends every global login and every app session of the user across apps, and no one else’s', async () => {
    const { mail, docs } = realm({ secret: SECRET })
    const one = await mail.login('cy', { inbox: 1 })
    const oneDocs = await docs.join(one.global.token as string, { folder: '/' })
    const two = await docs.login('cy', { folder: '/2' })
    const other = await mail.login('dee', { inbox: 9 })
    expect(await docs.logoutEverywhere('cy')).toBe(5)
    for (const token of [one.app.token, two.app.token]) {
      expect(await mail.get(token)).toBeUndefined()
      expect(await docs.get(token)).toBeUndefined()
    }
    expect(await docs.get(oneDocs?.app.token as string)).toBeUndefined()
    expect(await docs.join(two.global.token as string, { folder: '/' })).toBeUndefined()
    expect(await mail.view('cy')).toEqual({ global: [], apps: { docs: [], mail: [] } })
    expect((await mail.get(other.app.token))?.app.data).toEqual({ inbox: 9 })
    expect(await mail.logoutEverywhere('cy')).toBe(0)
  })

  it('reading an app session keeps the global login alive; when the global login is idle too long, every app session ends', async () => {
    const { mail, docs } = realm({ global: { idleTimeoutMs: 1500 }, local: { idleTimeoutMs: 60_000 } })
    const login = await mail.login('eve', { inbox: 0 })
    const joined = await docs.join(login.global.token as string, { folder: '/' })
    // Only mail is used, for twice the global idle timeout: the global login lives on.
    const started = Date.now()
    while (Date.now() - started < 3000) {
      expect(await mail.get(login.app.token), `${Date.now() - started} ms`).toBeDefined()
      await sleep(150)
    }
    expect(await docs.get(joined?.app.token as string)).toBeDefined()
    // Then nothing: the global login ends by its idle timeout, and the apps' sessions with it.
    await eventually(async () => (await mail.view('eve')).global.length === 0, 6000, 'global idle timeout')
    expect(await mail.view('eve')).toEqual({ global: [], apps: { docs: [], mail: [] } })
    expect(await docs.get(joined?.app.token as string)).toBeUndefined()
    expect(await mail.get(login.app.token)).toBeUndefined()
  })

  it('an app session idle too long ends alone; the global login lets the user join that app again', async () => {
    const { mail, docs } = realm({ global: { idleTimeoutMs: 60_000 }, local: { idleTimeoutMs: 1500 } })
    const login = await mail.login('fay', { inbox: 0 })
    const joined = await docs.join(login.global.token as string, { folder: '/' })
    const started = Date.now()
    while (Date.now() - started < 3000) {
      expect(await docs.get(joined?.app.token as string)).toBeDefined()
      await sleep(150)
    }
    await eventually(async () => (await mail.get(login.app.token)) === undefined, 6000, 'mail idle timeout')
    expect(await docs.get(joined?.app.token as string)).toBeDefined()
    const again = await mail.join(login.global.token as string, { inbox: 5 })
    expect((await mail.get(again?.app.token as string))?.app.data).toEqual({ inbox: 5 })
    expect((await mail.view('fay')).apps.mail).toHaveLength(1)
  })

  it('logout from an app whose own session timed out ends the login everywhere, given the shared global token (review 12 finding 15)', async () => {
    const { mail, docs } = realm({ global: { idleTimeoutMs: 60_000 }, local: { idleTimeoutMs: 800 } })
    const login = await mail.login('gus', { inbox: 0 })
    const joined = await docs.join(login.global.token as string, { folder: '/' })
    const other = await mail.login('gus', { inbox: 1 }) // another browser: its login stays
    await sleep(1500) // no reads meanwhile: a read would slide mail's idle timeout
    expect(await mail.get(login.app.token)).toBeUndefined()
    expect(await mail.logout(login.app.token)).toBe(false)
    expect(await mail.logout(login.app.token, { globalToken: login.global.token as string })).toBe(true)
    expect(await docs.get(joined?.app.token as string)).toBeUndefined()
    expect(await mail.join(login.global.token as string, { inbox: 2 })).toBeUndefined()
    // The other browser's login is untouched (its app session idled out too: it joins again).
    expect(await mail.join(other.global.token as string, { inbox: 3 })).toBeDefined()
    expect(await mail.logout(login.app.token, { globalToken: login.global.token as string })).toBe(false)
    expect(await errorCode(mail.logout(login.app.token, { globalToken: 42 as never }))).toBe('E_INVALID_ARGUMENT')
  })

  it('the global absolute timeout ends a login in use in every app; an app’s absolute timeout ends only its session', async () => {
    const { mail, docs } = realm({
      global: { idleTimeoutMs: 60_000, absoluteTimeoutMs: 2000 },
      local: { idleTimeoutMs: 60_000, absoluteTimeoutMs: 60_000 },
    })
    const login = await mail.login('gus', { inbox: 0 })
    const joined = await docs.join(login.global.token as string, { folder: '/' })
    expect(login.global.absoluteExpiresAt).toBeLessThanOrEqual(Date.now() + 2000)
    const started = Date.now()
    while ((await mail.get(login.app.token)) !== undefined) {
      expect(Date.now() - started, 'the login outlived its absolute timeout').toBeLessThan(8000)
      await sleep(100)
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
    expect(await docs.get(joined?.app.token as string)).toBeUndefined()

    const apps = realm({
      global: { idleTimeoutMs: 60_000, absoluteTimeoutMs: 60_000 },
      local: { idleTimeoutMs: 60_000, absoluteTimeoutMs: 2000 },
    })
    const second = await apps.mail.login('gus', { inbox: 0 })
    const begun = Date.now()
    while ((await apps.mail.get(second.app.token)) !== undefined) {
      expect(Date.now() - begun, 'the app session outlived its absolute timeout').toBeLessThan(8000)
      await sleep(100)
    }
    expect(Date.now() - begun).toBeGreaterThanOrEqual(1500)
    expect(await apps.docs.join(second.global.token as string, { folder: '/' })).toBeDefined()
  })

  it('a logout while another app joins the same login never leaves a usable session (logout and logout everywhere)', async () => {
    const { mail, docs } = realm()
    for (let round = 0; round < 20; round++) {
      const everywhere = round % 2 === 1
      const login = await mail.login('hal', { inbox: round })
      // The join and the logout race; the logout may land before, during or after the join.
      const [joined] = await Promise.all([
        (async () => {
          await sleep(round % 4)
          return docs.join(login.global.token as string, { folder: '/' })
        })(),
        everywhere ? mail.logoutEverywhere('hal') : mail.logout(login.app.token),
      ])
      if (joined) expect(await docs.get(joined.app.token), `round ${round}`).toBeUndefined()
      expect(await mail.get(login.app.token)).toBeUndefined()
      expect(await docs.view('hal'), `round ${round}`).toEqual({ global: [], apps: { docs: [], mail: [] } })
    }
    // Nothing is left behind in Redis either (a joined session is ended, not only unreadable).
    await eventually(async () => (await keysOf(`${t.prefix}:{session:${mail.realm}.*:id:*}:s`)).length === 0, 3000, 'no sessions left')
  })

  it('refuses bad names and user ids with typed errors; realms and apps never share sessions', async () => {
    expect(await errorCode(() => t.rk.sso({ app: 'a:b' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(() => t.rk.sso({ app: 'a.b' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(() => t.rk.sso({ app: 'a', realm: 'x{y}' }))).toBe('E_INVALID_KEY')
    expect(await errorCode(() => t.rk.sso(null as never))).toBe('E_INVALID_ARGUMENT')
    const { mail } = realm()
    expect(await errorCode(mail.login(undefined as never, { inbox: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(await errorCode(mail.login('a{b}', { inbox: 0 }))).toBe('E_INVALID_KEY')
    expect(await errorCode(mail.logoutEverywhere(7 as never))).toBe('E_INVALID_ARGUMENT')
    expect(await mail.get('not-a-token.at-all')).toBeUndefined()
    expect(await mail.join('x', { inbox: 0 })).toBeUndefined()
    // Realm 'x-app-y' and realm 'x' with an app 'y-global' once named the same sessions.
    const n = ++seq
    const first = t.rk.sso({ app: 'a', realm: `x${n}-app-y` })
    const second = t.rk.sso({ app: 'y-global', realm: `x${n}` })
    const login = await first.login('ivy', null)
    expect(await second.get(login.global.token as string)).toBeUndefined()
    expect((await second.view('ivy')).global).toEqual([])
  })
})
