import { describeValue, ErrorCodes, RedkitError } from '../core/errors.js'
import { validateObjectName } from '../core/keys.js'
import { defineScript } from '../core/scripts.js'
import type { MessagingContext } from './context.js'

const addScript = defineScript<[counter: string], [delta: number], string>('counter-add')

/** A stored counter value as a number, refusing what a number cannot hold exactly. */
function decodeValue(key: string, text: string | null): number {
  if (text === null) return 0
  const n = Number(text)
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n))
    throw new RedkitError(
      ErrorCodes.E_DECODE,
      `counter ${key} holds ${text.length > 32 ? 'a value' : JSON.stringify(text)}, not a safe integer`,
      {
        details: { key },
      },
    )
  return n
}

export function validateDelta(n: unknown, what = 'n'): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `${what} must be a safe integer, got ${describeValue(n)}`)
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

  /**
   * Adds `n` (default 1) and resolves the new value. A result outside the safe integer range
   * (+-(2^53 - 1)) is refused with E_INVALID_ARGUMENT and the counter is left as it was.
   */
  async incr(n = 1): Promise<number> {
    return Number(await addScript.run(this.#ctx.connection, [this.key], [validateDelta(n)]))
  }

  /** Subtracts `n` (default 1) and resolves the new value; the same range rule as `incr`. */
  async decr(n = 1): Promise<number> {
    return Number(await addScript.run(this.#ctx.connection, [this.key], [-validateDelta(n)]))
  }

  /** Sets the value (default 0) and resolves the previous one (0 when there was none, or it was not a safe integer). */
  async reset(to = 0): Promise<number> {
    const previous = await this.#ctx.connection.send<string | null>(['SET', this.key, String(validateDelta(to, 'to')), 'GET'], {
      key: this.key,
    })
    // reset is how a counter holding garbage is repaired, so an unreadable previous value is not an error.
    try {
      return decodeValue(this.key, previous)
    } catch {
      return 0
    }
  }

  /** The current value (0 when unset); E_DECODE when the key holds something a number cannot represent exactly. */
  async value(): Promise<number> {
    return decodeValue(this.key, await this.#ctx.connection.send<string | null>(['GET', this.key], { key: this.key }))
  }
}
