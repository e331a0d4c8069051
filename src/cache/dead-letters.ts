import type { Connection } from '../core/connection.js'
import { entriesOf, fieldsToRecord } from '../core/stream-reply.js'
import { count } from '../core/validate.js'
import type { CacheKeys } from './cache-keys.js'
import { scripts } from './scripts.js'
import { DEAD_FIELD, WB_FIELD } from './wire.js'

/** A write-behind write that failed its last attempt. */
export interface DeadLetter {
  /** Stream id the write had in the queue. */
  id: string
  key: string
  op: string
  /** The writer's last error message. */
  error: string
  attempts: number
}

/** The dead letters of a cache, oldest first (at most `limit`). */
export async function readDeadLetters(connection: Connection, keys: CacheKeys, limit: number): Promise<DeadLetter[]> {
  const dead = keys.dead
  const reply = await connection.send<unknown>(['XRANGE', dead, '-', '+', 'COUNT', String(count(limit, 'limit'))], { key: dead })
  return entriesOf([[dead, reply]]).map(([, fields]) => {
    const record = fieldsToRecord(fields)
    return {
      id: record[DEAD_FIELD.id] ?? '',
      key: record[WB_FIELD.key] ?? '',
      op: record[WB_FIELD.op] ?? 'set',
      error: record[DEAD_FIELD.error] ?? '',
      attempts: Number(record[DEAD_FIELD.attempts] ?? 0),
    }
  })
}

/** Queues dead letters again, in one script (a key's newest dead write only, unless it was written since). @returns writes queued again */
export async function replayDeadLetters(connection: Connection, keys: CacheKeys, limit: number): Promise<number> {
  const [requeued] = await scripts.wbReplay.run(
    connection,
    [keys.stream, keys.latest, keys.dead, keys.deadAt, keys.queued],
    [count(limit, 'limit')],
  )
  return requeued
}
