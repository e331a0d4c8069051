import { ErrorCodes, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import type { MessagingContext } from './context.js'

export function validateDelta(n: unknown, what = 'n'): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be a safe integer, got ${String(n)}`)
  }
  return n
}

/** An atomic integer counter in one key (`<prefix>:{<name>}:counter`). */
export class Counter {
  readonly name: string
  readonly key: string
  readonly #ctx: MessagingContext

  constructor(ctx: MessagingContext, name: string) {
    this.#ctx = ctx
    this.name = validateObjectName(name, 'counter name')
    this.key = ctx.keys.key(this.name, 'counter')
  }

  /** Adds `n` (default 1) and resolves the new value. */
  async incr(n = 1): Promise<number> {
    return Number(await this.#ctx.connection.send<number>(['INCRBY', this.key, String(validateDelta(n))], { key: this.key }))
  }

  /** Subtracts `n` (default 1) and resolves the new value. */
  async decr(n = 1): Promise<number> {
    return Number(await this.#ctx.connection.send<number>(['DECRBY', this.key, String(validateDelta(n))], { key: this.key }))
  }

  /** Sets the value (default 0) and resolves the previous one. */
  async reset(to = 0): Promise<number> {
    const previous = await this.#ctx.connection.send<string | null>(['SET', this.key, String(validateDelta(to, 'to')), 'GET'], {
      key: this.key,
    })
    return previous === null ? 0 : Number(previous)
  }

  async value(): Promise<number> {
    const value = await this.#ctx.connection.send<string | null>(['GET', this.key], { key: this.key })
    return value === null ? 0 : Number(value)
  }
}
