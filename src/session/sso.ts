import type { RedkitContext } from '../core/context.js'
import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import type { Expirations } from '../events/index.js'
import { SessionManager } from './manager.js'
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
  /** This application's name (its own sessions). No '{', '}' or ':'. */
  app: string
  /** The single sign-on realm: applications of one realm share one login. @defaultValue 'sso' */
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

/** What each application's session records: its global login, and the application's own data. */
interface AppData<D> {
  g: string
  d: D
}

/** A user's sessions at both levels. */
export interface SsoView {
  global: SessionInfo[]
  apps: Record<string, SessionInfo[]>
}

/**
 * Single sign-on: one global login per user and browser (the shared cookie), and a session per
 * application joined to it. Each application reads its own session, and the global one with it:
 * when the global login has ended (logout anywhere, logout everywhere, its idle or absolute
 * timeout), the application's session ends too. Idle and absolute timeouts apply at both levels;
 * reading an application's session keeps the global login alive.
 */
export class SingleSignOn<D = unknown> {
  readonly app: string
  readonly realm: string
  readonly #rk: RedkitContext
  readonly #global: SessionManager<null>
  readonly #local: SessionManager<AppData<D>>
  readonly #options: SsoOptions
  readonly #expirations: (() => Expirations) | undefined
  #registered = false

  constructor(rk: RedkitContext, options: SsoOptions, expirations?: () => Expirations) {
    if (options === null || typeof options !== 'object')
      throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'sso options must be an object')
    this.app = validateObjectName(options.app, 'app')
    this.realm = validateObjectName(options.realm ?? 'sso', 'realm')
    for (const [what, value] of [
      ['app', this.app],
      ['realm', this.realm],
    ] as const)
      if (value.includes(':') || value.includes('.')) throw new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} must not contain ':' or '.'`)
    this.#rk = rk
    this.#options = options
    this.#expirations = expirations
    this.#global = new SessionManager<null>(rk, { name: `${this.realm}-global`, secret: options.secret, ...options.global }, expirations)
    this.#local = this.#manager(this.app) as SessionManager<AppData<D>>
  }

  #manager(app: string): SessionManager<AppData<unknown>> {
    return new SessionManager(
      this.#rk,
      { name: `${this.realm}-app-${app}`, secret: this.#options.secret, ...this.#options.local },
      this.#expirations,
    )
  }

  /** Logs a user in: a new global login (its token for the shared cookie) and this application's session. */
  async login(userId: string, data: D, context: ClientContext = {}): Promise<SsoSession<D>> {
    await this.#register()
    const global = await this.#global.create(userId, null, context)
    const app = await this.#local.create(userId, { g: global.token, d: data }, context)
    return { app: this.#unwrap(app), global }
  }

  /**
   * Joins this application to a global login (a user arriving with the shared cookie): a new
   * session of this application, for the same user. @returns undefined when the global login has ended
   */
  async join(globalToken: string, data: D, context: ClientContext = {}): Promise<SsoSession<D> | undefined> {
    const global = await this.#global.get(globalToken, context)
    if (!global) return undefined
    await this.#register()
    const app = await this.#local.create(global.userId, { g: globalToken, d: data }, context)
    // A logout between the read and the join: do not keep a session for an ended login.
    if (!(await this.#global.get(globalToken, { ...context, touch: false }))) {
      await this.#local.destroy(app.token)
      return undefined
    }
    const { token: _t, csrfToken: _c, ...rest } = global
    return { app: this.#unwrap(app), global: rest }
  }

  /** This application's session and its global login; undefined (and this session ended) when either has ended. */
  async get(appToken: string, context: ClientContext = {}): Promise<SsoSession<D> | undefined> {
    const app = await this.#local.get(appToken, context)
    if (!app) return undefined
    const global = await this.#global.get(app.data.g, context)
    if (!global || global.userId !== app.userId) {
      await this.#local.destroy(appToken)
      return undefined
    }
    const { token: _t, csrfToken: _c, ...rest } = global
    return { app: this.#unwrap(app), global: rest }
  }

  /** Replaces this application's data. @returns false when the session has ended */
  async update(appToken: string, data: D, context: ClientContext = {}): Promise<boolean> {
    const app = await this.#local.get(appToken, { ...context, touch: false })
    return app !== undefined && this.#local.update(appToken, { g: app.data.g, d: data }, context)
  }

  /**
   * Logs out of this login in every application: the global login ends, this application's
   * session with it, and every other application's session of it at its next read.
   */
  async logout(appToken: string): Promise<boolean> {
    const app = await this.#local.get(appToken, { touch: false })
    if (!app) return false
    await this.#global.destroy(app.data.g)
    await this.#local.destroy(appToken)
    return true
  }

  /** Logs a user out everywhere: every global login and every application session of the realm. @returns how many sessions ended */
  async logoutEverywhere(userId: string): Promise<number> {
    // The global logins first: an application session whose login has ended cannot be read.
    let ended = await this.#global.destroyAllForUser(userId)
    for (const app of await this.#apps()) ended += await this.#manager(app).destroyAllForUser(userId)
    return ended
  }

  /** A user's sessions at both levels, for a "your devices" page: the global logins, and each application's sessions. */
  async view(userId: string): Promise<SsoView> {
    const view: SsoView = { global: await this.#global.listForUser(userId), apps: {} }
    for (const app of await this.#apps()) view.apps[app] = await this.#manager(app).listForUser(userId)
    return view
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
    const apps = (await this.#rk.connection.send<string[]>(['SMEMBERS', key], { key })).map(String)
    return apps.includes(this.app) ? apps.sort() : [...apps, this.app].sort()
  }

  #appsKey(): string {
    return this.#rk.keys.key(`sso:${this.realm}`, 'apps')
  }

  #unwrap(app: Session<AppData<D>>): Session<D> {
    return { ...app, data: app.data.d }
  }
}
