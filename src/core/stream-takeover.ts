import type { Connection } from './connection.js'
import type { StreamGroupReaderOptions } from './stream-group-options.js'
import { entriesOf, type StreamEntry } from './stream-reply.js'

type GroupOf = Pick<StreamGroupReaderOptions, 'stream' | 'group' | 'reclaimIdleMs'>

/**
 * Claims for `consumer` the entries another consumer of the group left unacknowledged for
 * reclaimIdleMs (it died: a live one keeps its entries fresh), at most `room()` of them, and
 * removes consumers that hold nothing and were idle as long. @returns the entries claimed
 */
export async function takeOver(connection: Connection, options: GroupOf, consumer: string, room: () => number): Promise<StreamEntry[]> {
  const { stream, group, reclaimIdleMs } = options
  const pending = await connection.send<unknown[]>(['XPENDING', stream, group, 'IDLE', String(reclaimIdleMs), '-', '+', '100'], {
    key: stream,
  })
  await dropIdleConsumers(connection, options, consumer)
  if (!Array.isArray(pending) || pending.length === 0) return []
  const ids = pending
    .filter((row): row is unknown[] => Array.isArray(row))
    .map((row) => String(row[0]))
    .slice(0, room())
  return entriesOf([[stream, await connection.send(['XCLAIM', stream, group, consumer, String(reclaimIdleMs), ...ids], { key: stream })]])
}

/** Consumers of processes that died stay in the group forever otherwise. Deleting one that holds nothing loses nothing. */
async function dropIdleConsumers(connection: Connection, options: GroupOf, consumer: string): Promise<void> {
  const { stream, group, reclaimIdleMs } = options
  const rows = await connection.send<unknown[]>(['XINFO', 'CONSUMERS', stream, group], { key: stream })
  if (!Array.isArray(rows)) return
  for (const row of rows) {
    const info = toRecord(row)
    if (info.name === undefined || info.name === consumer) continue
    if (Number(info.pending) === 0 && Number(info.idle) > reclaimIdleMs) {
      await connection.send(['XGROUP', 'DELCONSUMER', stream, group, String(info.name)], { key: stream })
    }
  }
}

/** XINFO rows: flat field/value arrays (RESP2) or maps (RESP3). */
function toRecord(row: unknown): Record<string, unknown> {
  if (row instanceof Map) return Object.fromEntries(row)
  if (Array.isArray(row)) {
    const out: Record<string, unknown> = {}
    for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = row[i + 1]
    return out
  }
  return typeof row === 'object' && row !== null ? (row as Record<string, unknown>) : {}
}
