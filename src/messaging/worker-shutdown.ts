import type { MessagingContext } from './context.js'
import type { QueueKeys } from './queue-keys.js'
import { releaseScript } from './queue-scripts.js'

/** Resolves when `count()` is 0 (told through `onZero`) or at `deadline`, whichever comes first. */
export function waitForHandlers(count: () => number, onZero: (resolve: () => void) => void, deadline: number): Promise<void> {
  if (count() === 0) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
    timer.unref()
    onZero(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Gives leases back without counting an attempt; resolves how many were still held. */
export function releaseLeases(ctx: MessagingContext, keys: QueueKeys, members: string[]): Promise<number> {
  if (members.length === 0) return Promise.resolve(0)
  return releaseScript.call(ctx.connection, keys, members)
}
