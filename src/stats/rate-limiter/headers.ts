import type { RateLimitResult } from '../types.js'

/** Which IETF draft of "RateLimit header fields for HTTP" to speak (draft-ietf-httpapi-ratelimit-headers). */
export type RateLimitHeaderDraft = 'draft-6' | 'draft-7' | 'draft-8'

export interface PolicyDescription {
  limit: number
  windowMs: number
  /** Draft 8 names its policy; an sf-string (printable ASCII). */
  name: string
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000))

/** The default draft-8 policy name, e.g. `100-in-60s`. */
export function defaultPolicyName(limit: number, windowMs: number): string {
  return `${limit}-in-${seconds(windowMs)}s`
}

/** Escapes an sf-string: printable ASCII only, `"` and `\` backslash-escaped. */
function sfString(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&')}"`
}

/**
 * The header fields for one decision. Draft 6: `RateLimit-Limit/-Remaining/-Reset` and
 * `RateLimit-Policy: 100;w=60`; draft 7: `RateLimit: limit=100, remaining=99, reset=30` and the
 * same policy; draft 8: `RateLimit-Policy: "name";q=100;w=60` and `RateLimit: "name";r=99;t=30`.
 * `Retry-After` (seconds) comes with every denial.
 */
export function rateLimitHeaders(result: RateLimitResult, policy: PolicyDescription, draft: RateLimitHeaderDraft): Array<[string, string]> {
  const reset = seconds(result.resetMs)
  const window = seconds(policy.windowMs)
  const out: Array<[string, string]> = []
  if (draft === 'draft-6') {
    out.push(['RateLimit-Policy', `${policy.limit};w=${window}`])
    out.push(['RateLimit-Limit', String(policy.limit)])
    out.push(['RateLimit-Remaining', String(result.remaining)])
    out.push(['RateLimit-Reset', String(reset)])
  } else if (draft === 'draft-7') {
    out.push(['RateLimit-Policy', `${policy.limit};w=${window}`])
    out.push(['RateLimit', `limit=${policy.limit}, remaining=${result.remaining}, reset=${reset}`])
  } else {
    const name = sfString(policy.name)
    out.push(['RateLimit-Policy', `${name};q=${policy.limit};w=${window}`])
    out.push(['RateLimit', `${name};r=${result.remaining};t=${reset}`])
  }
  if (!result.allowed) out.push(['Retry-After', String(Math.max(1, seconds(result.retryAfterMs)))])
  return out
}
