import { EmitterComponent } from '../core/component.js'
import { ErrorCodes, errors, isRedkitError, RedkitError, thrownText } from '../core/errors.js'
import { escapeGlob, validateObjectName } from '../core/keys.js'
import type { SubscriptionKind } from '../core/pubsub.js'
import type { Subscription } from '../core/subscription.js'
import type { MessagingContext } from './context.js'

export interface ChannelOptions<T> {
  /**
   * Sharded pub/sub (SPUBLISH/SSUBSCRIBE): messages travel only within the channel's shard, which is
   * what scales on Cluster. Pattern subscriptions do not hear sharded channels.
   * @defaultValue true on Cluster, false otherwise
   */
  sharded?: boolean
  /** The name is a glob (`chat.*`): subscribe only, to every non-sharded channel whose name matches. */
  pattern?: boolean
  /** Checks each incoming message; one it rejects (false or throws) goes to the `error` event, not to handlers. */
  validate?: ((value: unknown) => value is T) | ((value: unknown) => boolean)
}

/** What a handler receives besides the message. */
export interface MessageContext {
  /** The channel's name (for pattern subscriptions, the one that matched). */
  channel: string
}

export type MessageHandler<T> = (message: T, context: MessageContext) => void | Promise<void>

export interface ChannelEvents {
  /** A message that cannot be decoded or fails `validate`, or a handler that threw. Never thrown. */
  error: [RedkitError]
  /**
   * The subscriber connection was lost (`false`) or is back and subscribed again (`true`), once per
   * subscription: messages published in between were missed (pub/sub keeps nothing).
   */
  resync: [healthy: boolean]
}

/** A channel subscription: `close()` stops this handler. */
export interface ChannelSubscription extends Subscription {
  readonly channel: string
}

/**
 * Typed publish/subscribe. Delivery is at most once, to the subscribers connected at the time (that
 * is pub/sub); use a queue or an event counter when a message must not be lost.
 */
export class Channel<T = unknown> extends EmitterComponent<ChannelEvents> {
  /** The Redis channel (or pattern) name: `<prefix>:{<name>}:ch`. */
  readonly redisName: string
  readonly #ctx: MessagingContext
  readonly #kind: SubscriptionKind
  readonly #validate: ((value: unknown) => boolean) | undefined
  readonly #subscriptions = new Set<ChannelSubscription>()

  constructor(ctx: MessagingContext, name: string, options: ChannelOptions<T> = {}) {
    // Not registered with rk.close(): a channel handle holds nothing but its subscriptions, and
    // those end with the shared subscriber when redkit closes.
    super({ name: validateObjectName(name, 'channel name'), kind: 'channel', scrubber: ctx.connection.scrubber })
    this.#ctx = ctx
    const sharded = options.sharded ?? ctx.connection.topology === 'cluster'
    if (options.pattern) {
      this.#kind = 'pattern'
      this.redisName = `${escapeGlob(ctx.keys.prefix)}:{${this.name}}:ch`
    } else {
      this.#kind = sharded ? 'sharded' : 'channel'
      this.redisName = ctx.keys.key(this.name, 'ch')
    }
    this.#validate = options.validate
  }

  get sharded(): boolean {
    return this.#kind === 'sharded'
  }

  /**
   * Publishes a message; resolves how many subscribers received it (on Cluster, those connected to
   * the node that took it). @throws RedkitError E_ENCODE when the codec cannot encode it.
   */
  async publish(message: T): Promise<number> {
    this.assertOpen()
    if (this.#kind === 'pattern') throw new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, 'a pattern channel can only subscribe')
    const encoded = this.#ctx.codec.encode(message)
    const command = this.#kind === 'sharded' ? 'SPUBLISH' : 'PUBLISH'
    return this.#ctx.connection.send<number>([command, this.redisName, encoded], { key: this.redisName })
  }

  /** Calls `handler` for each message until the subscription is closed (or redkit is). Re-subscribes after reconnects. */
  async subscribe(handler: MessageHandler<T>): Promise<ChannelSubscription> {
    this.assertOpen()
    if (typeof handler !== 'function') throw errors.invalidArgument('subscribe handler', 'a function', handler)
    const unsubscribe = await this.#ctx.connection.pubsub.subscribe(this.#kind, this.redisName, {
      message: (raw, channel) => this.#deliver(handler, raw, channel),
      resync: (healthy) => {
        if (this.listenerCount('resync') > 0) this.emit('resync', healthy)
      },
    })
    let closed = false
    const subscription: ChannelSubscription = {
      channel: this.name,
      close: async () => {
        if (closed) return
        closed = true
        this.#subscriptions.delete(subscription)
        await unsubscribe()
      },
    }
    this.#subscriptions.add(subscription)
    return subscription
  }

  /** Closes every subscription made through this channel; publish and subscribe then fail with E_CLOSED. */
  protected override async teardown(): Promise<void> {
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()))
  }

  #deliver(handler: MessageHandler<T>, raw: string, redisChannel: string): void {
    const channel = this.#kind === 'pattern' ? nameOf(redisChannel) : this.name
    let message: T
    try {
      message = this.#ctx.codec.decode(raw) as T
      if (this.#validate && !this.#validate(message)) throw new Error('rejected by validate')
    } catch (error) {
      this.report(
        new RedkitError(ErrorCodes.E_DECODE, `channel ${channel}: malformed message (${(error as Error).message})`, {
          cause: error,
          details: { channel, sample: raw.slice(0, 64) },
        }),
      )
      return
    }
    try {
      const result = handler(message, { channel })
      if (result && typeof (result as Promise<void>).catch === 'function')
        (result as Promise<void>).catch((error: unknown) => this.#handlerFailed(channel, error))
    } catch (error) {
      this.#handlerFailed(channel, error)
    }
  }

  #handlerFailed(channel: string, error: unknown): void {
    this.report(
      isRedkitError(error)
        ? error
        : new RedkitError(ErrorCodes.E_INVALID_ARGUMENT, `channel ${channel}: the handler threw: ${thrownText(error)}`, { cause: error }),
    )
  }
}

/** `prefix:{name}:ch` -> `name`. */
function nameOf(redisChannel: string): string {
  const open = redisChannel.indexOf('{')
  const close = redisChannel.lastIndexOf('}')
  return open !== -1 && close > open ? redisChannel.slice(open + 1, close) : redisChannel
}
