import { describe, expect, expectTypeOf, it } from 'vitest'
import type { Redkit, RedkitError } from '../../src/index.js'
import { createRedlock, type LockHandle, type RedlockLock, type Reservation } from '../../src/lock/index.js'

// Compile-time checks (tsc runs over test/): every handle has the LockHandle surface, using()
// returns what fn returns, and the inventory's answers are typed. The function is never called.
async function typings(rk: Redkit) {
  const lock = rk.lock('orders', { ttlMs: 30_000 })
  expectTypeOf(lock).toMatchTypeOf<LockHandle>()
  expectTypeOf(rk.semaphore('pool', { permits: 4 })).toMatchTypeOf<LockHandle>()
  expectTypeOf(rk.readWriteLock('doc').reader()).toEqualTypeOf<LockHandle>()
  expectTypeOf(lock.token).toEqualTypeOf<number | undefined>()
  expectTypeOf(lock.signal).toEqualTypeOf<AbortSignal | undefined>()
  expectTypeOf(await lock.tryAcquire()).toBeBoolean()
  expectTypeOf(await lock.using(async (signal) => (signal.aborted ? 1 : 2))).toBeNumber()
  expectTypeOf(await rk.readWriteLock('doc').read(() => 'text')).toBeString()
  lock.onLost((error) => expectTypeOf(error).toEqualTypeOf<RedkitError>())
  // @ts-expect-error a semaphore needs its permits
  rk.semaphore('pool', {})
  // @ts-expect-error ttlMs is a number
  rk.lock('orders', { ttlMs: '1s' })
  const re = rk.reentrantLock('tree')
  expectTypeOf(re.holdCount).toBeNumber()
  expectTypeOf(await re.using(() => true)).toBeBoolean()
  const shop = rk.inventory('shop')
  expectTypeOf(await shop.reserve('sku', 1, 'user')).toEqualTypeOf<Reservation | undefined>()
  expectTypeOf(await shop.confirm('sku', 'id')).toBeBoolean()
  const redlock = createRedlock([{ sendCommand: async () => null }])
  expectTypeOf(redlock.lock('r')).toEqualTypeOf<RedlockLock>()
  expectTypeOf(redlock.lock('r').validUntil).toEqualTypeOf<number | undefined>()
}

describe('lock types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })
})
