import { describe, expect, expectTypeOf, it } from 'vitest'
import type {
  DeadLetter,
  ExpiryEvent,
  Presence,
  PresenceDeadLetter,
  PresenceMember,
  PresenceOfflineEvent,
  PresenceOnlineEvent,
  Subscription,
} from '../../src/events/index.js'
import type { Redkit, RedkitError } from '../../src/index.js'

// Compile-time checks (tsc runs over test/): handlers get typed events, subscriptions close, values
// and meta carry their type parameter, and misspelt options are refused. The function is never called.
async function typings(rk: Redkit) {
  const sub = await rk.expirations.on<{ sku: string }>(
    'cart:*',
    (event) => {
      expectTypeOf(event).toEqualTypeOf<ExpiryEvent<{ sku: string }>>()
      expectTypeOf(event.value).toEqualTypeOf<{ sku: string } | undefined>()
      expectTypeOf(event.deadline).toEqualTypeOf<number | undefined>()
      expectTypeOf(event.lateMs).toEqualTypeOf<number | undefined>()
      expectTypeOf(event.mode).toEqualTypeOf<'reliable' | 'native'>()
    },
    { group: 'carts', withValue: true, temporary: false, from: 'retained' },
  )
  expectTypeOf(sub).toEqualTypeOf<Subscription>()
  expectTypeOf(await rk.expirations.set('k', 1, { ttlMs: 100 })).toBeNumber()
  expectTypeOf(await rk.expirations.expire('k', 100)).toEqualTypeOf<number | undefined>()
  expectTypeOf(await rk.expirations.track('k', { keepValue: true })).toEqualTypeOf<number | undefined>()
  expectTypeOf(await rk.expirations.delete('k')).toBeBoolean()
  expectTypeOf(await rk.expirations.deadLetters()).toEqualTypeOf<DeadLetter[]>()
  rk.expirations.events.on('reset', ({ group }) => expectTypeOf(group).toBeString())
  rk.expirations.events.on('error', (error) => expectTypeOf(error).toEqualTypeOf<RedkitError>())
  // @ts-expect-error mode is 'reliable' or 'native'
  await rk.expirations.on('k', () => {}, { mode: 'lazy' })
  // @ts-expect-error set needs its ttlMs
  await rk.expirations.set('k', 1, {})

  const devices: Presence<{ firmware: string }> = rk.presence<{ firmware: string }>('devices', { ttlMs: 30_000 })
  expectTypeOf(await devices.beat('d1', { firmware: '1.0' })).toBeBoolean()
  expectTypeOf(await devices.online()).toEqualTypeOf<PresenceMember<{ firmware: string }>[]>()
  await devices.on('online', (e) => expectTypeOf(e).toEqualTypeOf<PresenceOnlineEvent<{ firmware: string }>>())
  await devices.on('offline', (e) => expectTypeOf(e.lastBeat).toBeNumber())
  expectTypeOf<PresenceOfflineEvent['type']>().toEqualTypeOf<'offline'>()
  expectTypeOf(await devices.deadLetters()).toEqualTypeOf<PresenceDeadLetter[]>()
  // @ts-expect-error meta has the presence's type
  await devices.beat('d1', { firmware: 1 })
}

describe('events types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })
})
