import type { Connection } from '../core/connection.js'
import type { RedkitContext } from '../core/context.js'
import type { CacheParts } from './parts.js'
import type { TellMode, TellReply } from './scripts.js'
import type { Waiters } from './waiters.js'
import { MSG, message, parseMessage } from './wire.js'

/**
 * How a cache's messages travel. On Cluster they are sharded (SSUBSCRIBE, SPUBLISH): they reach only
 * the shard of the cache's channel, where a classic PUBLISH is broadcast over the cluster bus to
 * every node. An entry's scripts run in the entry's slot, not the channel's, so there they return
 * their messages ('reply') and `sendTold` SPUBLISHes them.
 */
export function tellMode(connection: Pick<Connection, 'topology'>): TellMode {
  return connection.topology === 'cluster' ? 'reply' : 'PUBLISH'
}

/** PUBLISH, or SPUBLISH on Cluster: for a message sent by the client, or by a script in the channel's slot. */
export function publishCommand(connection: Pick<Connection, 'topology'>): 'PUBLISH' | 'SPUBLISH' {
  return connection.topology === 'cluster' ? 'SPUBLISH' : 'PUBLISH'
}

/**
 * Sends the messages a script left for the caller (mode 'reply'), and returns its result. The
 * script's writes stand whatever happens to its messages: one that cannot be sent is reported, not
 * thrown (a waiter that misses it reads again at its timeout).
 */
export async function sendTold(parts: Pick<CacheParts, 'connection' | 'keys' | 'report'>, reply: TellReply): Promise<number> {
  const channel = parts.keys.channel
  for (let i = 1; i < reply.length; i++) {
    try {
      await parts.connection.send(['SPUBLISH', channel, reply[i] as string], { key: channel })
    } catch (error) {
      parts.report(error)
    }
  }
  return Number(reply[0])
}

/**
 * The message protocol of a cache's channel (codes in wire.ts): fills, failures and absences wake
 * the waiters of a key; an invalidation drops near copies and makes the waiters of those keys read
 * again (their load may have been voided).
 */
export class CacheProtocol {
  readonly #rk: RedkitContext
  readonly #parts: CacheParts
  readonly #waiters: Waiters
  #subscribed: Promise<unknown> | undefined
  #unsubscribe: (() => Promise<void>) | undefined

  constructor(rk: RedkitContext, parts: CacheParts, waiters: Waiters) {
    this.#rk = rk
    this.#parts = parts
    this.#waiters = waiters
  }

  /** Subscribes once (a failure lets the next call try again). */
  subscribe(): Promise<unknown> {
    const near = this.#parts.near
    this.#subscribed ??= this.#rk.connection.pubsub
      .subscribe(this.#rk.connection.topology === 'cluster' ? 'sharded' : 'channel', this.#parts.keys.channel, {
        message: (text) => this.#onMessage(text),
        resync: (healthy) => {
          near?.hubChanged(healthy)
          this.#waiters.resyncAll()
        },
      })
      .then(
        (unsubscribe) => {
          this.#unsubscribe = unsubscribe
          near?.hubChanged(true)
        },
        (error: unknown) => {
          this.#subscribed = undefined
          throw error
        },
      )
    return this.#subscribed
  }

  /** Tells every instance these keys changed. */
  async invalidate(keys: readonly string[]): Promise<void> {
    const parts = this.#parts
    await parts.connection.send(
      [publishCommand(parts.connection), parts.keys.channel, message(MSG.invalidate, parts.instance, keys.join('\n'))],
      {
        key: parts.keys.channel,
      },
    )
  }

  async close(): Promise<void> {
    this.#waiters.resyncAll()
    await this.#unsubscribe?.()
  }

  #onMessage(text: string): void {
    const parsed = parseMessage(text)
    if (!parsed) return
    const { type, body } = parsed
    if (type === MSG.invalidate) {
      const near = parsed.instance === this.#parts.instance ? undefined : this.#parts.near
      for (const key of body.split('\n')) {
        this.#waiters.settle(key, { type: 'resync' })
        near?.invalidate(key, 'message')
      }
      return
    }
    const newline = body.indexOf('\n')
    const key = newline < 0 ? body : body.slice(0, newline)
    if (type === MSG.filled) this.#waiters.settle(key, { type: 'filled' })
    else if (type === MSG.absent) this.#waiters.settle(key, { type: 'absent' })
    else if (type === MSG.uncacheable) this.#waiters.settle(key, { type: 'uncacheable' })
    // Never meant for a waiter here: this instance's flight of the key was the one that failed,
    // and a flight that started after it (waiting on the lock a timed-out load keeps) must not fail with it.
    else if (type === MSG.failed && parsed.instance !== this.#parts.instance)
      this.#waiters.settle(key, { type: 'failed', message: body.slice(newline + 1) })
  }
}
