import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import type { Expirations } from '../events/index.js'
import { SessionManager, sessionsWithData } from './manager.js'
import { validateUserId } from './records.js'
import type { ClientContext } from './security.js'
import type { Session, SessionInfo } from './types.js'

/** Timeouts of one level (the global login, or one application's session). */
export interface SsoTimeouts {
  /** @defaultValue 1_800_000 (30 min) */
  idleTimeoutMs?: number | false
  /** @defaultValue 86_400_000 (24 h) */
  absoluteTimeoutMs?: number | false
}

export interface SsoOptions {
  /** This application's name (its own sessions). No '{', '}', ':' or '.'. */
  app: string
  /** The single sign-on realm: applications of one realm share one login. No '{', '}', ':' or '.'. @defaultValue 'sso' */
  realm?: string
  /** Signs both levels' tokens (see SessionOptions.secret). Every application of a realm uses the same. */
  secret?: string | readonly string[]
  /** The global login's timeouts (every application of a realm should use the same). */
  global?: SsoTimeouts
  /** This application's sessions' timeouts. */
  local?: SsoTimeouts
}

/** An application's session joined to a global login. */
export interface SsoSession<D> {
  /** This application's session (its token goes in this application's cookie). */
  app: Session<D>
  /** The global login it belongs to: `userId`, `expiresAt`, and (at login) the token for the shared cookie. */
  global: Omit<Session<null>, 'token' | 'csrfToken'> & { token?: string | undefined }
}

/** What each application's session records: its global login's token, and the application's own data. */
interface AppData<D> {
  g: string
  d: D
}

/** A user's sessions at both levels. */
export interface SsoView {
  /** The user's live global logins (one per browser). */
  global: SessionInfo[]
  /** Each application's live sessions, only those whose global login is live too. */
  apps: Record<string, SessionInfo[]>
}

/**
 * Single sign-on: one global login per user and browser (the shared cookie), and a session per
 * application joined to it. Each application reads its own session, and the global one with it:
 * when the global login has ended (logout anywhere, logout everywhere, its idle or absolute
 * timeout), the application's session ends too. Idle and absolute timeouts apply at both levels;
 * reading an application's session keeps the global login alive.
 *
 * Keys: the global logins are the sessions named `<realm>.global`, an application's are named
 * `<realm>.app.<app>`; neither realm nor app may hold '.', so no two realms or apps share a name.
 */
export class SingleSignOn<D = unknown> {
  readonly app: string
  readonly realm: string
  readonly #rk: RedkitContext
  readonly #global: SessionManager<null>
  readonly #local: SessionManager<AppData<D>>
  readonly #options: SsoOptions
  readonly #expirations: (() => Expirations) | undefined
  /** The other applications' managers (for logout, logout everywhere and the combined view). */
  readonly #managers = new Map<string, SessionManager<AppData<unknown>>>()
  #registered = false

  constructor(rk: RedkitContext, options: SsoOptions, expirations?: () => Expirations) {
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'sso options must be an object')
    this.app = ssoName(options.app, 'app')
    this.realm = ssoName(options.realm ?? 'sso', 'realm')
    this.#rk = rk
    this.#options = options
    this.#expirations = expirations
    this.#global = new SessionManager<null>(rk, { ...options.global, name: `${this.realm}.global`, secret: options.secret }, expirations)
    this.#local = this.#manager(this.app) as SessionManager<AppData<D>>
  }

  #manager(app: string): SessionManager<AppData<unknown>> {
    let manager = this.#managers.get(app)
    if (manager === undefined) {
      manager = new SessionManager(
        this.#rk,
        { ...this.#options.local, name: `${this.realm}.app.${app}`, secret: this.#options.secret },
        this.#expirations,
      )
      this.#managers.set(app, manager)
    }
    return manager
  }

  /**
   * Logs a user in: a new global login (its token for the shared cookie) and this application's session.
   * @throws RedkitError E_INVALID_ARGUMENT / E_INVALID_KEY for a user id that is not a valid name
   */
  async login(userId: string, data: D, context: ClientContext = {}): Promise<SsoSession<D>> {
    const user = validateUserId(userId)
    // The data first: data the codec refuses must not leave a global login no caller holds a token for.
    this.#rk.codec.encode({ g: '', d: data })
    await this.#register()
    const global = await this.#global.create(user, null, context)
    let app: Session<AppData<D>>
    try {
      app = (await this.#local.create(user, { g: global.token as string, d: data }, context)) as Session<AppData<D>>
    } catch (error) {
      // Refused for another reason (too large, the server): the login ends with it.
      await this.#global.destroy(global.token as string).catch(() => {})
      throw error
    }
    return { app: this.#unwrap(app), global }
  }

  /**
   * Joins this application to a global login (a user arriving with the shared cookie): a new
   * session of this application, for the same user. A logout (here or anywhere) that ends the
   * global login while the join runs ends the new session too.
   * @returns undefined when the global login has ended
   */
  async join(globalToken: string, data: D, context: ClientContext = {}): Promise<SsoSession<D> | undefined> {
    const global = await this.#global.get(globalToken, context)
    if (global?.userId === undefined) return undefined
    await this.#register()
    const app = await this.#local.create(global.userId, { g: globalToken, d: data }, context)
    // A logout between the read and the join: do not keep a session for an ended login. (A logout
    // after this check finds the new session in the user's index, and reads check the login anyway.)
    if (!(await this.#global.get(globalToken, { ...context, touch: false }))) {
      await this.#local.destroy(app.token)
      return undefined
    }
    return { app: this.#unwrap(app), global: this.#public(global) }
  }

  /** This application's session and its global login; undefined (and this session ended) when either has ended. */
  async get(appToken: string, context: ClientContext = {}): Promise<SsoSession<D> | undefined> {
    const app = await this.#local.get(appToken, context)
    if (!app) return undefined
    const global = await this.#liveGlobal(app, context)
    if (!global) return undefined
    return { app: this.#unwrap(app), global: this.#public(global) }
  }

  /** The handle `view` shows for this application's session behind a token (to mark "this device"). */
  handleOf(appToken: string): string | undefined {
    return this.#local.handleOf(appToken)
  }

  /** Replaces this application's data. @returns false when the session (or its global login) has ended */
  async update(appToken: string, data: D, context: ClientContext = {}): Promise<boolean> {
    const app = await this.#local.get(appToken, { ...context, touch: false })
    if (!app || !(await this.#liveGlobal(app, { ...context, touch: false }))) return false
    return this.#local.update(appToken, { g: app.data.g, d: data }, context)
  }

  /**
   * Logs out of this login in every application: the global login ends, then each application's
   * sessions joined to it (an application session joined at the same moment ends at its next read).
   * Pass the shared cookie's `globalToken` too: when this application's own session has already
   * timed out, the login is found through it, so "log out" still ends it everywhere.
   * @returns false when the session (and the login, if given) had already ended
   */
  async logout(appToken: string, options: { globalToken?: string } = {}): Promise<boolean> {
    const app = await this.#local.get(appToken, { touch: false })
    let globalToken = app?.data.g
    let user = app?.userId
    if (!app) {
      if (options.globalToken === undefined) return false
      const login = await this.#global.get(options.globalToken, { touch: false })
      if (!login) return false
      globalToken = options.globalToken
      user = login.userId
    }
    await this.#global.destroy(globalToken as string)
    if (app) await this.#local.destroy(appToken)
    const login = this.#global.handleOf(globalToken as string)
    for (const name of await this.#apps()) {
      const manager = this.#manager(name)
      for (const { session } of await sessionsWithData(manager, user as string))
        if (this.#global.handleOf(session.data.g) === login) await manager.destroy(session.token)
    }
    return true
  }

  /** Logs a user out everywhere: every global login and every application session of the realm. @returns how many sessions ended */
  async logoutEverywhere(userId: string): Promise<number> {
    const user = validateUserId(userId)
    // The global logins first: an application session whose login has ended cannot be read.
    let ended = await this.#global.destroyAllForUser(user)
    for (const app of await this.#apps()) ended += await this.#manager(app).destroyAllForUser(user)
    return ended
  }

  /**
   * A user's sessions at both levels, for a "your devices" page: the live global logins, and each
   * application's sessions whose global login is live.
   */
  async view(userId: string): Promise<SsoView> {
    const user = validateUserId(userId)
    const global = await this.#global.listForUser(user)
    const live = new Set(global.map((login) => login.handle))
    const view: SsoView = { global, apps: {} }
    for (const app of await this.#apps())
      view.apps[app] = (await sessionsWithData(this.#manager(app), user))
        .filter(({ session }) => live.has(this.#global.handleOf(session.data.g) ?? ''))
        .map(({ info }) => info)
    return view
  }

  /** The global login of an application session; undefined (and the application session ended) when it has ended. */
  async #liveGlobal(app: Session<AppData<D>>, context: ClientContext & { touch?: boolean }): Promise<Session<null> | undefined> {
    const global = await this.#global.get(app.data.g, context)
    if (global && global.userId === app.userId) return global
    await this.#local.destroy(app.token)
    return undefined
  }

  /** Records this application in the realm's registry (logout everywhere and the combined view visit each). */
  async #register(): Promise<void> {
    if (this.#registered) return
    const key = this.#appsKey()
    await this.#rk.connection.send(['SADD', key, this.app], { key })
    this.#registered = true
  }

  async #apps(): Promise<string[]> {
    const key = this.#appsKey()
    // A member that is no application name (planted) names no sessions: skipped, so that it cannot
    // stop a logout everywhere halfway, after some applications' sessions ended and not others'.
    const apps = (await this.#rk.connection.send<string[]>(['SMEMBERS', key], { key })).map(String).filter(isSsoName)
    return apps.includes(this.app) ? apps.sort() : [...apps, this.app].sort()
  }

  #appsKey(): string {
    return this.#rk.keys.key(`sso:${this.realm}`, 'apps')
  }

  #public(global: Session<null>): SsoSession<D>['global'] {
    const { token: _t, csrfToken: _c, ...rest } = global
    return rest
  }

  #unwrap(app: Session<AppData<D>>): Session<D> {
    return { ...app, data: app.data.d }
  }
}

/** An application or realm name: an object name without ':' or '.', which separate the parts of its sessions' names. */
function ssoName(value: unknown, what: string): string {
  const valid = validateObjectName(value, what)
  if (valid.includes(':') || valid.includes('.')) throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not contain ':' or '.'`)
  return valid
}

function isSsoName(value: string): boolean {
  try {
    return ssoName(value, 'app') === value
  } catch {
    return false
  }
}
