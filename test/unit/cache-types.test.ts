import { describe, expect, expectTypeOf, it } from 'vitest'
import type { CacheStats, DeadLetter, InvalidateEvent, LoadInfo, RefreshEvent } from '../../src/cache/index.js'
import type { Redkit } from '../../src/index.js'

// Compile-time checks (tsc runs over test/): the value type flows from the factory to loaders,
// reads, writes and events. The function is never called.
async function typings(rk: Redkit) {
  const users = rk.cache<{ id: string; name: string }>('users', {
    loader: (key, info) => {
      expectTypeOf(key).toBeString()
      expectTypeOf(info).toEqualTypeOf<LoadInfo>()
      expectTypeOf(info.signal).toEqualTypeOf<AbortSignal>()
      return { id: key, name: 'x' }
    },
  })
  expectTypeOf(await users.get('u1')).toEqualTypeOf<{ id: string; name: string } | undefined>()
  expectTypeOf(await users.getOrLoad('u1', async (id) => ({ id, name: 'y' }))).toEqualTypeOf<{ id: string; name: string } | undefined>()
  // A loader may ignore its info, and answer "absent" with undefined.
  await users.getOrLoad('u2', () => undefined)
  // @ts-expect-error the loader must produce the cache's value type
  await users.getOrLoad('u3', async () => 42)
  // @ts-expect-error the loader's tags function gets the value
  await users.getOrLoad('u4', async (id) => ({ id, name: 'z' }), { tags: (value: number) => [String(value)] })
  await users.set('u1', { id: 'u1', name: 'a' }, { ttlMs: 1000, tags: ['team'] })
  // @ts-expect-error set takes the value type
  await users.set('u1', 'text')
  expectTypeOf(await users.delete('u1')).toBeBoolean()
  expectTypeOf(await users.invalidateTags(['team'])).toBeNumber()
  expectTypeOf(await users.refresh('u1')).toEqualTypeOf<{ id: string; name: string } | undefined>()
  expectTypeOf(await users.deadLetters()).toEqualTypeOf<DeadLetter[]>()
  expectTypeOf(await users.replayDeadLetters()).toBeNumber()
  expectTypeOf(users.stats).toEqualTypeOf<CacheStats>()
  const byId = users.wrap(
    async (id: number) => ({ id: String(id), name: 'w' }),
    (id) => `user:${id}`,
  )
  expectTypeOf(byId).parameters.toEqualTypeOf<[number]>()
  users.on('refresh', (event) => expectTypeOf(event).toEqualTypeOf<RefreshEvent>())
  users.on('invalidate', (event) => expectTypeOf(event).toEqualTypeOf<InvalidateEvent>())
  users.on('hit', (event) => expectTypeOf(event.layer).toEqualTypeOf<'near' | 'redis'>())
  // @ts-expect-error no such event
  users.on('loaded', () => {})
  // @ts-expect-error write needs a known mode
  rk.cache('x', { write: 'sideways', writer: () => {} })
  rk.cache<number>('n', { near: { maxEntries: 10, healthCheckMs: 500 } })
}

describe('cache types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })
})
