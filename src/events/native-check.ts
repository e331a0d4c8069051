import { randomBytes } from 'node:crypto'
import { withTimeout } from '../core/async.js'
import { sleep } from '../core/clock.js'
import type { NodeHandle } from '../core/connection.js'
import { ErrorCodes, isRedkitError, RedkitError } from '../core/errors.js'
import { ensureExpiredEvents } from '../core/server-config.js'
import { parseClusterSlots, tagForSlot } from '../core/slot-map.js'

/** Probe keys are redkit's own: no handler, here or in another process, ever hears one. */
export const PROBE_PREFIX = '__redkit:probe:'

/**
 * Native mode's check that a master publishes `expired` keyevents: CONFIG SET `Ex` when needed.
 * Where CONFIG is disabled (managed services), the flags may still have been set by the operator:
 * a probe key that expires at once tells, instead of failing blindly. The subscriber hands every
 * key it hears to `heard()` first, which swallows the probes.
 */
export class NotificationCheck {
  readonly #cluster: boolean
  readonly #probeTimeoutMs: number
  /** Probe keys in flight: their expiry proves notifications are on; never dispatched. */
  readonly #probes = new Map<string, () => void>()

  constructor(cluster: boolean, probeTimeoutMs: number) {
    this.#cluster = cluster
    this.#probeTimeoutMs = probeTimeoutMs
  }

  /** True for a key of redkit's probes (one of ours in flight, or another process's): not to dispatch. */
  heard(key: string): boolean {
    if (this.#probes.size > 0) {
      const probe = this.#probes.get(key)
      if (probe) {
        probe()
        return true
      }
    }
    return key.startsWith(PROBE_PREFIX)
  }

  /** @throws RedkitError E_SERVER_CONFIG when the master does not publish expirations, E_PERMISSION when it cannot be told */
  async ensure(node: NodeHandle): Promise<void> {
    try {
      await ensureExpiredEvents(node)
    } catch (error) {
      if (!isRedkitError(error, ErrorCodes.E_SERVER_CONFIG)) throw error
      let verified: boolean
      try {
        verified = await this.#probe(node)
      } catch (probeError) {
        // The flags could not be read, and the probe that would tell is refused: that is the cause
        // to report (an ACL without the probe key), not "must include Ex", which may well be set.
        if (!isRedkitError(probeError, ErrorCodes.E_PERMISSION)) throw probeError
        throw new RedkitError(
          ErrorCodes.E_PERMISSION,
          `native expiry mode cannot verify notify-keyspace-events on ${node.address}: CONFIG is not allowed and the ACL refuses the probe key ${PROBE_PREFIX}*; add ~${PROBE_PREFIX}* to the user (see \`redkit acl\`)`,
          { cause: probeError, details: { node: node.address, setting: 'notify-keyspace-events' } },
        )
      }
      if (verified) return
      throw error
    }
  }

  async #probe(node: NodeHandle): Promise<boolean> {
    const key = await this.#probeKey(node)
    let timer: NodeJS.Timeout | undefined
    let done = false
    const arrived = new Promise<boolean>((resolve) => {
      this.#probes.set(key, () => resolve(true))
      timer = setTimeout(() => resolve(false), this.#probeTimeoutMs)
    })
    arrived.then(() => {
      done = true
    })
    try {
      await node.send(['SET', key, '1', 'PX', '1'])
      // Touching the key once it is due makes Redis expire it (and notify) now, not at its next cycle.
      while (!done) {
        await sleep(10)
        await node.send(['EXISTS', key])
        await withTimeout(arrived, 20, () => false, { unref: false })
      }
      return await arrived
    } finally {
      clearTimeout(timer)
      this.#probes.delete(key)
    }
  }

  async #probeKey(node: NodeHandle): Promise<string> {
    const id = randomBytes(6).toString('hex')
    if (!this.#cluster) return `${PROBE_PREFIX}${id}`
    // The key must live in a slot this master owns.
    const [myId, slots] = await Promise.all([node.send<string>(['CLUSTER', 'MYID']), node.send<unknown>(['CLUSTER', 'SLOTS'])])
    const slot = parseClusterSlots(slots).find((range) => range.masterId === String(myId))?.from
    if (slot === undefined) throw new RedkitError(ErrorCodes.E_REDIS, `${node.address} owns no slot`)
    return `${PROBE_PREFIX}{${tagForSlot(slot)}}:${id}`
  }
}
