/** A stream entry: its id and its field/value pairs as a flat list. */
export type StreamEntry = [id: string, fields: string[]]

/**
 * XREADGROUP / XAUTOCLAIM replies differ between RESP2 (arrays) and RESP3 (maps); this returns the
 * entries of the one stream read, whatever the protocol.
 */
export function entriesOf(reply: unknown): StreamEntry[] {
  if (reply == null) return []
  let streams: unknown[]
  if (reply instanceof Map) streams = [...reply.values()]
  else if (Array.isArray(reply)) streams = reply.map((s) => (Array.isArray(s) ? s[1] : s))
  else if (typeof reply === 'object') streams = Object.values(reply)
  else return []
  const out: StreamEntry[] = []
  for (const entries of streams) {
    if (!Array.isArray(entries)) continue
    for (const entry of entries) {
      // XCLAIM/XAUTOCLAIM list deleted entries as [id, nil].
      if (Array.isArray(entry) && Array.isArray(entry[1])) out.push([String(entry[0]), entry[1].map(String)])
    }
  }
  return out
}

export function fieldsToRecord(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string
  return out
}
