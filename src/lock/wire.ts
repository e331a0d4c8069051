/**
 * What lock scripts reply and publish. A wake-up message is `<token>:<fencing token>:<ttl ms>`,
 * addressed to one waiter: the lock was handed to it. A fencing token of 0 means "retry" (unfair
 * locks wake the head waiter without a handoff, and a resubscribe wakes everyone).
 */

/**
 * The most holds one lock can have at once (semaphore permits, concurrent readers; further readers
 * wait their turn). Every lock script reads all the holders, so this bounds its work; the scripts
 * refuse a larger holders hash (planted data) with E_TOO_LARGE. LOCK_MAX_HOLDERS in lock-holders.lua.
 */
export const MAX_HOLDERS = 1_000

export interface Grant {
  token: string
  fence: number
  ttlMs: number
  /**
   * Set only for a grant read from a release reply (Redis said so): when that release was sent,
   * a time before the grant. A message has none: it is a hint to ask again, never a grant.
   */
  after?: number
}

export function parseWake(message: string): Grant | undefined {
  const [token, fence, ttl] = message.split(':')
  if (!token || fence === undefined || ttl === undefined) return undefined
  const grant = { token, fence: Number(fence), ttlMs: Number(ttl) }
  return Number.isFinite(grant.fence) && Number.isFinite(grant.ttlMs) ? grant : undefined
}

/** The grants listed from index `from` of a release reply sent at `sentAt` (after its riders' replies). */
export function grantsOf(reply: ReadonlyArray<number | string>, sentAt: number, from = 1): Grant[] {
  const grants: Grant[] = []
  for (let i = from; i + 2 < reply.length; i += 3) {
    grants.push({ token: String(reply[i]), fence: Number(reply[i + 1]), ttlMs: Number(reply[i + 2]), after: sentAt })
  }
  return grants
}
