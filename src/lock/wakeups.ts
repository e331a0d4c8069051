import { randomBytes } from 'node:crypto'
import type { RedkitContext } from '../core/context.js'
import { type Grant, parseWake } from './wire.js'

/** Called with the grant when the lock was handed to this waiter, or with fence 0 to retry. */
export type WakeHandler = (grant: Grant) => void

interface ChannelState {
  readonly waiters: Map<string, WakeHandler>
  /** Settles once Redis confirmed (or refused) the subscription; never rejects. */
  ready: Promise<void>
  subscribed: boolean
  unsubscribe: (() => Promise<void>) | undefined
  linger: NodeJS.Timeout | undefined
}

/** How long a channel stays subscribed after its last waiter left, so a busy lock does not resubscribe per wait. */
const LINGER_MS = 5_000

const registry = new WeakMap<RedkitContext, Wakeups>()

/**
 * Routes wake-ups to waiters in this process: one subscription per lock channel on the shared
 * pub/sub connection, whatever the number of waiters, and each message goes to the one waiter it
 * names — nobody else does anything. Grants listed in a release reply are delivered here at once,
 * before their message arrives.
 */
export class Wakeups {
  /** Starts every waiter token of this process, so a release here can skip messages to waiters here. */
  readonly prefix = `${randomBytes(4).toString('hex')}.`
  readonly #ctx: RedkitContext
  readonly #channels = new Map<string, ChannelState>()

  private constructor(ctx: RedkitContext) {
    this.#ctx = ctx
    ctx.onClose(() => this.#closeAll())
  }

  static of(ctx: RedkitContext): Wakeups {
    let wakeups = registry.get(ctx)
    if (!wakeups) {
      wakeups = new Wakeups(ctx)
      registry.set(ctx, wakeups)
    }
    return wakeups
  }

  /**
   * Registers a waiter. Returns whether the channel was already subscribed (no message can have
   * been missed since), a promise for the subscription, and the function that unregisters.
   */
  listen(channel: string, token: string, wake: WakeHandler): { wasReady: boolean; ready: Promise<void>; stop: () => void } {
    let state = this.#channels.get(channel)
    if (!state) {
      const created: ChannelState = {
        waiters: new Map(),
        ready: Promise.resolve(),
        subscribed: false,
        unsubscribe: undefined,
        linger: undefined,
      }
      created.ready = this.#ctx.connection.pubsub
        .subscribe(this.#ctx.topology === 'cluster' ? 'sharded' : 'channel', channel, {
          message: (message) => {
            const grant = parseWake(message)
            if (grant) created.waiters.get(grant.token)?.(grant)
          },
          resync: () => {
            for (const [token, handler] of created.waiters) handler({ token, fence: 0, ttlMs: 0 })
          },
        })
        .then((unsubscribe) => {
          created.unsubscribe = unsubscribe
          created.subscribed = true
          if (this.#channels.get(channel) !== created) void unsubscribe()
        })
        // A subscription refused (no channel permission) or cut short leaves the waiters polling:
        // a lost wake-up only delays, and the wait must not fail with the subscription's error.
        .catch(() => {
          if (this.#channels.get(channel) === created) this.#channels.delete(channel)
        })
      this.#channels.set(channel, created)
      state = created
    }
    const current = state
    clearTimeout(current.linger)
    current.linger = undefined
    current.waiters.set(token, wake)
    return {
      wasReady: current.subscribed,
      ready: current.ready,
      stop: () => {
        current.waiters.delete(token)
        if (current.waiters.size > 0 || current.linger) return
        current.linger = setTimeout(() => {
          current.linger = undefined
          if (current.waiters.size > 0 || this.#channels.get(channel) !== current) return
          this.#channels.delete(channel)
          void current.unsubscribe?.()
        }, LINGER_MS)
        current.linger.unref()
      },
    }
  }

  /** Delivers grants a release reply listed to the waiters of this process. */
  deliver(channel: string, grants: readonly Grant[]): void {
    const state = this.#channels.get(channel)
    if (!state) return
    for (const grant of grants) state.waiters.get(grant.token)?.(grant)
  }

  #closeAll(): void {
    for (const state of this.#channels.values()) clearTimeout(state.linger)
    this.#channels.clear()
  }
}
