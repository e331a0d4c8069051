/**
 * What caches tell each other on their channel, `<type>|<instance>|<body>`:
 * - `f` filled: the value of key `<body>` landed in Redis (waiters read it);
 * - `a` absent: the loader found nothing and nothing was cached (waiters answer undefined);
 * - `u` uncacheable: loaded but not stored (too large, unencodable): waiters load it themselves;
 * - `e` failed: `<key>\n<error message>`, the loader failed (waiters fail with E_LOAD_FAILED);
 * - `i` invalidate: `<key>\n<key>...`, near copies of these keys are stale.
 * Keys never contain '\n' (control characters are rejected), so the body splits safely.
 */
export type MessageType = 'f' | 'a' | 'u' | 'e' | 'i'

export function message(type: MessageType, instance: string, body: string): string {
  return `${type}|${instance}|${body}`
}

export interface ParsedMessage {
  type: string
  instance: string
  body: string
}

export function parseMessage(text: string): ParsedMessage | undefined {
  const first = text.indexOf('|')
  if (first !== 1) return undefined
  const second = text.indexOf('|', 2)
  if (second < 0) return undefined
  return { type: text.charAt(0), instance: text.slice(2, second), body: text.slice(second + 1) }
}
