import { describe, expect, expectTypeOf, it } from 'vitest'
import type { Redkit } from '../../src/index.js'
import {
  RedkitSessionStore,
  type Session,
  type SessionInfo,
  type SsoSession,
  type SsoView,
  type StoredSessionData,
} from '../../src/session/index.js'

// Compile-time checks (tsc runs over test/): the data type flows through the manager, the store and
// single sign-on; listings carry handles, never ids, data or tokens. The function is never called.
async function typings(rk: Redkit) {
  const sessions = rk.sessions<{ cart: string[] }>({ name: 'shop', idleTimeoutMs: 60_000 })
  const session = await sessions.create('ada', { cart: [] }, { ip: '10.0.0.1' })
  expectTypeOf(session).toEqualTypeOf<Session<{ cart: string[] }>>()
  expectTypeOf(session.data.cart).toEqualTypeOf<string[]>()
  expectTypeOf(session.absoluteExpiresAt).toEqualTypeOf<number | undefined>()
  expectTypeOf(await sessions.get(session.token)).toEqualTypeOf<Session<{ cart: string[] }> | undefined>()
  expectTypeOf(await sessions.rotate(session.token)).toEqualTypeOf<Session<{ cart: string[] }> | undefined>()
  expectTypeOf(await sessions.update(session.token, { cart: ['x'] })).toBeBoolean()
  expectTypeOf(await sessions.destroyAllForUser('ada', { except: session.token })).toBeNumber()
  const [info] = await sessions.listForUser('ada')
  expectTypeOf(info).toEqualTypeOf<SessionInfo | undefined>()
  expectTypeOf<SessionInfo['handle']>().toBeString()
  expectTypeOf<SessionInfo>().not.toHaveProperty('id')
  expectTypeOf<SessionInfo>().not.toHaveProperty('token')
  expectTypeOf<SessionInfo>().not.toHaveProperty('data')
  expectTypeOf(sessions.handleOf(session.token)).toEqualTypeOf<string | undefined>()
  // Nothing public lists tokens: the listing with data and tokens is for single sign-on only.
  expectTypeOf(sessions).not.toHaveProperty('sessionsOf')
  expectTypeOf(sessions.verifyCsrf(session, 'x')).toBeBoolean()
  expectTypeOf(sessions.state).toEqualTypeOf<'open' | 'closing' | 'closed'>()
  sessions.on('rejected', (event) => expectTypeOf(event.reason).toEqualTypeOf<'signature' | 'shape' | 'fingerprint'>())
  // @ts-expect-error the data must have the manager's type
  await sessions.create('ada', { cart: 1 })
  // @ts-expect-error idleTimeoutMs is a number or false
  rk.sessions({ idleTimeoutMs: '30m' })

  const store = new RedkitSessionStore({ redkit: rk, userIdOf: (s) => s.userId as string | undefined, absoluteTimeoutMs: 3_600_000 })
  expectTypeOf(await store.get('sid')).toEqualTypeOf<StoredSessionData | null>()
  expectTypeOf(await store.get<{ views: number }>('sid')).toEqualTypeOf<{ views: number } | null>()
  expectTypeOf(await store.set('sid', { cookie: { maxAge: 1000 } })).toBeVoid()
  expectTypeOf(await store.listForUser(42)).toEqualTypeOf<Array<{ handle: string; session: StoredSessionData }>>()
  expectTypeOf(await store.destroyAllForUser('ada')).toBeNumber()
  for await (const page of store.idPages({ count: 100 })) expectTypeOf(page).toEqualTypeOf<string[]>()
  store.get('sid', (error, found) => {
    expectTypeOf(error).toEqualTypeOf<Error | null>()
    expectTypeOf(found).toEqualTypeOf<StoredSessionData | null | undefined>()
  })
  // @ts-expect-error ttlMs is a number or a function of the session
  new RedkitSessionStore({ redkit: rk, ttlMs: '1d' })

  const sso = rk.sso<{ inbox: number }>({
    app: 'mail',
    realm: 'corp',
    global: { idleTimeoutMs: 60_000 },
    local: { absoluteTimeoutMs: false },
  })
  const login = await sso.login('ada', { inbox: 1 })
  expectTypeOf(login).toEqualTypeOf<SsoSession<{ inbox: number }>>()
  expectTypeOf(login.app.data.inbox).toBeNumber()
  expectTypeOf(login.global.token).toEqualTypeOf<string | undefined>()
  expectTypeOf(login.global).not.toHaveProperty('csrfToken')
  expectTypeOf(await sso.join('token', { inbox: 0 })).toEqualTypeOf<SsoSession<{ inbox: number }> | undefined>()
  expectTypeOf(await sso.get('token')).toEqualTypeOf<SsoSession<{ inbox: number }> | undefined>()
  expectTypeOf(await sso.view('ada')).toEqualTypeOf<SsoView>()
  expectTypeOf<SsoView['apps']>().toEqualTypeOf<Record<string, SessionInfo[]>>()
  expectTypeOf(await sso.logout('token')).toBeBoolean()
  expectTypeOf(await sso.logoutEverywhere('ada')).toBeNumber()
  // @ts-expect-error an app is required
  rk.sso({ realm: 'corp' })
  // @ts-expect-error the data must have the sso's type
  await sso.login('ada', { inbox: 'one' })
}

describe('session types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })
})
