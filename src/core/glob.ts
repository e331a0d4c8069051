import { ErrorCodes, RedkitError } from './errors.js'
import { validateName } from './keys.js'

/**
 * Redis-style glob patterns (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), compiled once to a RegExp so that
 * redkit filters keys exactly as PSUBSCRIBE and SCAN MATCH would.
 * @throws RedkitError E_INVALID_ARGUMENT for an unterminated class or a trailing backslash,
 * E_INVALID_KEY for an empty pattern or one with control characters.
 */
export function compileGlob(pattern: unknown): RegExp {
  const text = validateName(pattern, 'pattern')
  let out = '^'
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === '*') out += '[\\s\\S]*'
    else if (c === '?') out += '[\\s\\S]'
    else if (c === '\\') {
      const next = text[++i]
      if (next === undefined) throw invalid(text, 'ends with a lone backslash')
      out += escapeRegExp(next)
    } else if (c === '[') {
      const close = findClassEnd(text, i)
      if (close === -1) throw invalid(text, `has an unterminated '[' at position ${i}`)
      let body = text.slice(i + 1, close)
      let negate = false
      if (body.startsWith('^')) {
        negate = true
        body = body.slice(1)
      }
      if (body.length === 0) throw invalid(text, `has an empty character class at position ${i}`)
      out += `[${negate ? '^' : ''}${classBody(body)}]`
      i = close
    } else out += escapeRegExp(c)
  }
  return new RegExp(`${out}$`)
}

function findClassEnd(text: string, open: number): number {
  for (let j = open + 1; j < text.length; j++) {
    if (text[j] === '\\') j++
    else if (text[j] === ']' && j > open + 1) return j
  }
  return -1
}

function classBody(body: string): string {
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string
    if (c === '\\') {
      const next = body[++i]
      if (next !== undefined) out += escapeRegExp(next)
    } else if (c === '-' && i > 0 && i < body.length - 1) out += '-'
    else out += escapeRegExp(c)
  }
  return out
}

function escapeRegExp(c: string): string {
  return c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
}

function invalid(pattern: string, why: string): RedkitError {
  return new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `pattern ${JSON.stringify(pattern)} ${why}`)
}

/** True when the pattern has no glob metacharacters, i.e. it matches exactly one name. */
export function isLiteralGlob(pattern: string): boolean {
  return !/[*?[\\]/.test(pattern)
}
