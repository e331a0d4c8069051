/** A handle on something that delivers to a handler until it is closed: an expiry subscription, a channel subscription. */
export interface Subscription {
  /** Stops delivering to this handler; what is in flight finishes first. */
  close(): Promise<void>
}
