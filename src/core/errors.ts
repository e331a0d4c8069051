/**
 * Every error redkit throws is a `RedkitError` with a stable `code`.
 * Codes are part of the public contract: never rename one, only add.
 */
export const ErrorCodes = {
  /** A user-given key or object name is empty, too long or holds control characters. */
  E_INVALID_KEY: 'E_INVALID_KEY',
  /** An option or argument is out of range or of the wrong type. */
  E_INVALID_ARGUMENT: 'E_INVALID_ARGUMENT',
  /** A value cannot be serialized by the codec (function, symbol, cycle, NaN, Map...). */
  E_ENCODE: 'E_ENCODE',
  /** A stored value cannot be decoded by the codec. */
  E_DECODE: 'E_DECODE',
  /** A value is larger than the configured limit. */
  E_TOO_LARGE: 'E_TOO_LARGE',
  /** Redis cannot be reached, or the connection was lost. */
  E_CONNECTION: 'E_CONNECTION',
  /** Redis refused the credentials (AUTH / HELLO failed). */
  E_AUTH: 'E_AUTH',
  /** An operation did not finish within its bound. */
  E_TIMEOUT: 'E_TIMEOUT',
  /** The server configuration does not allow the operation; the message names the setting. */
  E_SERVER_CONFIG: 'E_SERVER_CONFIG',
  /** A Lua script failed or returned an unexpected reply. */
  E_SCRIPT: 'E_SCRIPT',
  /** The Redis server answered with an error. */
  E_REDIS: 'E_REDIS',
  /** The redkit instance (or the component) was closed. */
  E_CLOSED: 'E_CLOSED',
  /** A lock could not be acquired in time. */
  E_LOCK_TIMEOUT: 'E_LOCK_TIMEOUT',
  /** A held lock expired or was taken over before it was released. */
  E_LOCK_LOST: 'E_LOCK_LOST',
  /**
   * A job's lease is gone: its visibility timeout expired and the job was redelivered (or released),
   * so this worker's late result was rejected; also the reason stored when a job's worker died on its last attempt.
   */
  E_JOB_LOST: 'E_JOB_LOST',
  /**
   * A cache loader failed in another process while this one waited for its value (distributed
   * stampede protection): the message is the remote loader's error message.
   */
  E_LOAD_FAILED: 'E_LOAD_FAILED',
  /**
   * An ACL rule denied a command, a key or a channel (Redis `NOPERM`); the message names what was
   * denied. The credentials themselves were accepted: grant the permission (docs/security.md lists
   * the ACL line redkit needs).
   */
  E_PERMISSION: 'E_PERMISSION',
  /**
   * A write made with `durable: { replicas, timeoutMs }` reached the master, but fewer replicas
   * than asked acknowledged it in time (Redis `WAIT`): it is stored, and a failover now could lose it.
   */
  E_NOT_DURABLE: 'E_NOT_DURABLE',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface RedkitErrorOptions {
  cause?: unknown
  /** Extra, non-secret facts that help the caller (a key name, a setting). */
  details?: Record<string, unknown>
}

export class RedkitError extends Error {
  override readonly name = 'RedkitError'
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: RedkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, details: this.details }
  }
}

export function isRedkitError(error: unknown, code?: ErrorCode): error is RedkitError {
  return error instanceof RedkitError && (code === undefined || error.code === code)
}

/** Holds every secret redkit was given, so nothing it reports can echo one. */
export class SecretScrubber {
  readonly #secrets = new Set<string>()

  add(secret: string | undefined | null): void {
    // Very short strings would scrub ordinary words; they are not credentials worth hiding anyway.
    if (secret && secret.length >= 3) this.#secrets.add(secret)
    if (secret) {
      const encoded = encodeURIComponent(secret)
      if (encoded !== secret && encoded.length >= 3) this.#secrets.add(encoded)
    }
  }

  scrub(text: string): string {
    let out = redactUrlCredentials(text)
    for (const secret of this.#secrets) out = out.split(secret).join('***')
    return out
  }

  /**
   * Turns anything thrown by the driver into a plain Error whose message and stack are scrubbed.
   * The original object is dropped on purpose: driver errors can carry options holding passwords.
   */
  sanitize(error: unknown): Error {
    if (error instanceof RedkitError) return error
    const source = error instanceof Error ? error : new Error(thrownText(error))
    const clean = new Error(this.scrub(source.message))
    clean.name = source.name
    if (source.stack) clean.stack = this.scrub(source.stack)
    const code = (source as { code?: unknown }).code
    if (typeof code === 'string') (clean as Error & { code?: string }).code = code
    return clean
  }
}

/**
 * `redis://user:secret@host` -> `redis://user:***@host`, anywhere in a string. Malformed forms a
 * user may type (`redis:/:secret@host`, `redis:secret@host`) lose everything before the '@'.
 */
export function redactUrlCredentials(text: string): string {
  // Greedy up to the last '@' of the token: an unencoded '@' or '/' in the password stays inside.
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):(\S*)@/gi, '$1$2:***@')
    .replace(/\b([a-z][a-z0-9+.-]*:)(?!\/\/)(\/?)(?!\*\*\*@)[^\s@]*@/gi, '$1$2***@')
}

/** An ACL denial as Redis words it: `NOPERM ...` for a command or channel, or inside a script. */
export const PERMISSION_DENIED = /NOPERM|user executing the script can't (run this command|publish to the channel)/

/** Maps a driver/server error to a RedkitError with the right code, scrubbing secrets. */
export function toRedkitError(error: unknown, scrubber: SecretScrubber, context: string): RedkitError {
  if (error instanceof RedkitError) return error
  const clean = scrubber.sanitize(error)
  const message = clean.message
  let code: ErrorCode = ErrorCodes.E_REDIS
  if (PERMISSION_DENIED.test(message)) code = ErrorCodes.E_PERMISSION
  else if (/DB index is out of range|invalid DB index/i.test(message)) code = ErrorCodes.E_INVALID_ARGUMENT
  else if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) code = ErrorCodes.E_AUTH
  else if (
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|Socket closed|socket hang up|connection|The client is closed|The client is offline|Disconnects client|root nodes are unavailable|EPIPE/i.test(
      message,
    )
  )
    code = ErrorCodes.E_CONNECTION
  // The cluster could not serve the slot (failover, migration, a loading replica): retried by the
  // connection until its bound, then an availability failure, not a script or server bug.
  else if (/^(TRYAGAIN|CLUSTERDOWN|MASTERDOWN|LOADING|READONLY)\b/.test(message)) code = ErrorCodes.E_CONNECTION
  else if (/NOSCRIPT|ERR Error running script|ERR user_script|script/i.test(message)) code = ErrorCodes.E_SCRIPT
  return new RedkitError(code, `${context}: ${message}`, { cause: clean })
}

/**
 * The text of a thrown value, whatever was thrown: its message for an Error, else String() of it
 * when that works. String() throws for an object without a prototype (Object.create(null), what
 * qs and many JSON parsers make), and a report that throws while reporting ends the process.
 */
export function thrownText(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message
  const message = (thrown as { message?: unknown } | null)?.message
  if (typeof message === 'string') return message
  try {
    return String(thrown)
  } catch {
    return describeValue(thrown)
  }
}

/** How a rejected value reads in an error message: numbers as they are, strings quoted, objects by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 64 ? `'${value.slice(0, 61)}...'` : `'${value}'`
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return 'a symbol'
  if (Array.isArray(value)) return 'an array'
  if (value !== null && typeof value === 'object') return 'an object'
  return String(value)
}

/**
 * One factory per code, so messages have one shape per kind of failure and carry their facts in
 * `details`. Call sites say what failed; the factory says how that reads.
 */
export const errors = {
  /** `<option> must be <expected>, got <got>`; leave `got` out when the value says nothing. */
  invalidArgument(option: string, expected: string, ...got: [unknown?]): RedkitError {
    const tail = got.length > 0 ? `, got ${describeValue(got[0])}` : ''
    return new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${option} must be ${expected}${tail}`, { details: { option } })
  },
  /** A user-given key or object name that cannot be used; `problem` says why ("is empty"). */
  invalidKey(what: string, problem: string): RedkitError {
    return new RedkitError(ErrorCodes.E_INVALID_KEY, `${what} ${problem}`)
  },
  /** `<component> is closed`: the component (or redkit) was closed before or during the call. */
  closed(component: string, detail?: string): RedkitError {
    return new RedkitError(ErrorCodes.E_CLOSED, detail ? `${component} is closed: ${detail}` : `${component} is closed`, {
      details: { component },
    })
  },
  /** `<what> did not finish within <ms> ms`. */
  timeout(what: string, ms: number, options: RedkitErrorOptions = {}): RedkitError {
    return new RedkitError(ErrorCodes.E_TIMEOUT, `${what} did not finish within ${ms} ms`, {
      ...options,
      details: { ...options.details, timeoutMs: ms },
    })
  },
  /** `<what> is <size> bytes, over the limit of <limit>`. */
  tooLarge(what: string, size: number, limit: number): RedkitError {
    return new RedkitError(ErrorCodes.E_TOO_LARGE, `${what} is ${size} bytes, over the limit of ${limit}`, { details: { size, limit } })
  },
  /** The server refuses what redkit needs; `fix` names the exact setting to change. */
  serverConfig(problem: string, fix: string, setting?: string): RedkitError {
    return new RedkitError(ErrorCodes.E_SERVER_CONFIG, `${problem}; ${fix}`, setting === undefined ? {} : { details: { setting } })
  },
  /** A stored value or message cannot be read. */
  decode(what: string, cause?: unknown): RedkitError {
    return new RedkitError(ErrorCodes.E_DECODE, `cannot decode ${what}`, cause === undefined ? {} : { cause })
  },
} as const
