import { describe, expect, it } from 'vitest'
import { CacheKeys } from '../../src/cache/cache-keys.js'
import {
  decodePayload,
  encodeValue,
  entryText,
  exceedsBytes,
  KIND_ABSENT,
  KIND_CODEC,
  KIND_JSON,
  metaOf,
  parseEntry,
} from '../../src/cache/entry.js'
import { jitterTtl, validateFraction } from '../../src/cache/jitter.js'
import { Limiter } from '../../src/cache/limiter.js'
import { Lru } from '../../src/cache/lru.js'
import { Waiters } from '../../src/cache/waiters.js'
import { message, parseMessage } from '../../src/cache/wire.js'
import { compareIds } from '../../src/cache/write-behind.js'
import { guardCodec, jsonCodec } from '../../src/core/codec.js'
import { KeySpace } from '../../src/core/keys.js'
import { isRedkitError } from '../../src/index.js'

describe('jitter', () => {
  it('only shortens, within the fraction, and spreads', () => {
    const seen = new Set<number>()
    for (let i = 0; i < 1000; i++) {
      const ttl = jitterTtl(10_000, 0.2)
      expect(ttl).toBeGreaterThanOrEqual(8000)
      expect(ttl).toBeLessThanOrEqual(10_000)
      seen.add(ttl)
    }
    expect(seen.size).toBeGreaterThan(500)
  })

  it('is exact at 0 and never below 1 ms', () => {
    expect(jitterTtl(1234, 0)).toBe(1234)
    expect(jitterTtl(1, 1, () => 1)).toBe(1)
    expect(jitterTtl(100, 0.5, () => 0)).toBe(100)
    expect(jitterTtl(100, 0.5, () => 1)).toBe(50)
  })

  it('validates fractions', () => {
    expect(validateFraction(0.5, 'x')).toBe(0.5)
    for (const bad of [-0.1, 1.5, Number.NaN, '0.1', undefined]) expect(() => validateFraction(bad, 'jitter')).toThrow(/jitter/)
    expect(() => validateFraction(0, 'refreshAhead', { allowZero: false })).toThrow()
    expect(() => validateFraction(1, 'refreshAhead', { allowOne: false })).toThrow()
  })
})

describe('near-cache LRU', () => {
  it('evicts the least recently used entry', () => {
    const lru = new Lru<number>(3)
    lru.set('a', 1, 1000)
    lru.set('b', 2, 1000)
    lru.set('c', 3, 1000)
    expect(lru.get('a', 0)?.value).toBe(1) // a is now the most recent
    lru.set('d', 4, 1000)
    expect(lru.get('b', 0)).toBeUndefined()
    expect([...lru.keys()]).toEqual(['c', 'a', 'd'])
    expect(lru.size).toBe(3)
  })

  it('expires entries and forgets them', () => {
    const lru = new Lru<string>(10)
    lru.set('k', 'v', 100)
    expect(lru.get('k', 99)?.value).toBe('v')
    expect(lru.get('k', 100)).toBeUndefined()
    expect(lru.size).toBe(0)
  })

  it('deletes and clears', () => {
    const lru = new Lru<number>(10)
    lru.set('a', 1, 10)
    lru.set('b', 2, 10)
    expect(lru.delete('a')).toBe(true)
    expect(lru.delete('a')).toBe(false)
    lru.clear()
    expect(lru.size).toBe(0)
  })
})

describe('entry format', () => {
  it('round-trips plain JSON without the codec and tagged values through it', () => {
    const plain = encodeValue(jsonCodec, { a: 1, b: [true, null, 'x'] })
    expect(plain.kind).toBe('j')
    const tagged = encodeValue(jsonCodec, { at: new Date(0), n: 10n })
    expect(tagged.kind).toBe('c')
    for (const [encoded, value] of [
      [plain, { a: 1, b: [true, null, 'x'] }],
      [tagged, { at: new Date(0), n: 10n }],
    ] as const) {
      const text = entryText(encoded.kind, 5, 10, encoded.payload)
      const entry = parseEntry(text)
      expect(entry).toMatchObject({ createdAt: 5, freshUntil: 10, kind: encoded.kind === 'j' ? KIND_JSON : KIND_CODEC })
      expect(decodePayload(jsonCodec, text, entry!)).toEqual(value)
    }
  })

  it('keeps falsy values distinct from absent', () => {
    for (const value of [null, 0, false, '', []]) {
      const encoded = encodeValue(jsonCodec, value)
      const text = entryText(encoded.kind, 1, 2, encoded.payload)
      expect(decodePayload(jsonCodec, text, parseEntry(text)!)).toEqual(value)
    }
    const absent = entryText('n', 1, 2, '')
    expect(parseEntry(absent)?.kind).toBe(KIND_ABSENT)
    expect(decodePayload(jsonCodec, absent, parseEntry(absent)!)).toBeUndefined()
  })

  it('refuses text it did not write and reports bad payloads as E_DECODE', () => {
    for (const bad of ['', 'hello', 'j12|x', 'jx:1|{}', 'j1:|{}', 'z1:2|{}']) expect(parseEntry(bad)).toBeUndefined()
    const text = 'j1:2|{"broken'
    let code: string | undefined
    try {
      decodePayload(jsonCodec, text, parseEntry(text)!)
    } catch (error) {
      code = isRedkitError(error) ? error.code : 'other'
    }
    expect(code).toBe('E_DECODE')
  })

  it('uses the codec for every value when it is not the JSON codec', () => {
    const codec = guardCodec({ name: 'upper', encode: (v) => JSON.stringify(v), decode: (t) => JSON.parse(t) })
    expect(encodeValue(codec, { a: 1 }).kind).toBe('c')
  })

  it('counts UTF-8 bytes only when they could exceed the limit', () => {
    expect(exceedsBytes('abc', 3)).toBe(false)
    expect(exceedsBytes('ééé', 5)).toBe(true)
    expect(exceedsBytes('x'.repeat(10), 9)).toBe(true)
  })
})

describe('cache keys', () => {
  const keys = new CacheKeys(new KeySpace('app'), 'users')

  it('gives each entry its own hash tag, with the lock in the same slot', () => {
    expect(keys.entry('42')).toBe('app:cache:{users:42}')
    expect(keys.lock(keys.entry('42'))).toBe('app:cache-lock:{users:42}')
    expect(keys.version(keys.entry('42'))).toBe('app:cache-ver:{users:42}')
    expect(keys.tag('team')).toBe('app:{users#tag:team}')
    expect(keys.entryPrefix).toBe('app:cache:{users:')
  })

  it('has a tracking prefix that matches its entries only: not its locks, versions, tags or channel, no other cache, no object named <cache>:...', () => {
    const space = new KeySpace('app')
    const entry = keys.entry('42')
    const others = [
      keys.lock(entry),
      keys.version(entry),
      keys.tag('team'),
      keys.channel,
      keys.stream,
      new CacheKeys(space, 'users2').entry('42'),
      new CacheKeys(space, 'user').entry('s:42'),
      // Other modules' objects named like the cache: a queue 'users:emails', sessions of a cache named 'session'.
      space.key('users:emails', 'ready'),
      space.key('users:42'),
      new CacheKeys(space, 'session').lock(new CacheKeys(space, 'session').entry('x')),
      space.key('session:web:id:abc'),
    ]
    expect(entry.startsWith(keys.entryPrefix)).toBe(true)
    for (const key of others) expect(key.startsWith(keys.entryPrefix), key).toBe(false)
    expect(new CacheKeys(space, 'session').entryPrefix).toBe('app:cache:{session:')
    expect(space.key('session:web:id:abc').startsWith(new CacheKeys(space, 'session').entryPrefix)).toBe(false)
  })

  it('escapes braces and percent, and reads keys back', () => {
    for (const key of ['a{b}c', '100%', '%7B', 'plain', 'x:y|z']) {
      const redisKey = keys.entry(key)
      expect(redisKey.indexOf('}')).toBe(redisKey.length - 1)
      expect(keys.keyOf(redisKey)).toBe(key)
    }
    expect(keys.keyOf('app:cache-lock:{users:42}')).toBeUndefined()
    expect(keys.keyOf('app:{users:42}')).toBeUndefined()
    expect(keys.keyOf('app:cache:{other:42}')).toBeUndefined()
  })

  it('rejects bad keys and names', () => {
    for (const bad of ['', 'a\nb', 'x'.repeat(2000)]) expect(() => keys.entry(bad)).toThrow(/cache key/)
    expect(() => keys.entry(42 as unknown as string)).toThrow()
    for (const name of ['a:b', 'a#b', 'a{b', '']) expect(() => new CacheKeys(new KeySpace('app'), name)).toThrow()
  })
})

describe('messages and waiters', () => {
  it('parses messages', () => {
    expect(parseMessage(message('e', 'abc', 'k|1\nboom'))).toEqual({ type: 'e', instance: 'abc', body: 'k|1\nboom' })
    expect(parseMessage('garbage')).toBeUndefined()
  })

  it('keeps an outcome that arrives before the wait starts', async () => {
    const waiters = new Waiters()
    waiters.expect('k')
    waiters.settle('k', { type: 'filled' })
    expect(await waiters.wait('k', 1000)).toEqual({ type: 'filled' })
    expect(waiters.size).toBe(0)
  })

  it('wakes a waiting caller, times out otherwise, ignores unknown keys', async () => {
    const waiters = new Waiters()
    waiters.expect('a')
    const waiting = waiters.wait('a', 5000)
    waiters.settle('a', { type: 'failed', message: 'db down' })
    expect(await waiting).toEqual({ type: 'failed', message: 'db down' })
    waiters.expect('b')
    expect(await waiters.wait('b', 10)).toEqual({ type: 'timeout' })
    waiters.settle('zzz', { type: 'filled' })
    expect(waiters.size).toBe(0)
  })
})

describe('fallback limiter', () => {
  it('bounds concurrency and rejects beyond the queue', async () => {
    const limiter = new Limiter(2, 1)
    let running = 0
    let peak = 0
    const release: Array<() => void> = []
    const job = () =>
      new Promise<number>((resolve) => {
        running++
        peak = Math.max(peak, running)
        release.push(() => {
          running--
          resolve(1)
        })
      })
    const a = limiter.run(job)
    const b = limiter.run(job)
    const c = limiter.run(job)
    const d = await limiter.run(job)
    expect(d).toBeUndefined()
    await new Promise((r) => setImmediate(r))
    expect(release).toHaveLength(2)
    release.shift()?.()
    await new Promise((r) => setImmediate(r))
    expect(release).toHaveLength(2)
    for (const r of release.splice(0)) r()
    await new Promise((r) => setImmediate(r))
    for (const r of release.splice(0)) r()
    expect(await Promise.all([a, b, c])).toEqual([{ value: 1 }, { value: 1 }, { value: 1 }])
    expect(peak).toBe(2)
  })
})

describe('write-behind ids', () => {
  it('compares stream ids numerically', () => {
    expect(compareIds('10-0', '9-5')).toBeGreaterThan(0)
    expect(compareIds('5-10', '5-9')).toBeGreaterThan(0)
    expect(compareIds('5-1', '5-1')).toBe(0)
  })
})

describe('entry header with per-call options', () => {
  it('round-trips the TTL and tags, and keeps the plain form when there are none', () => {
    expect(entryText('j', 1, 2, '7', { ttlMs: undefined, tags: undefined })).toBe('j1:2|7')
    const text = entryText('j', 1, 2, '"x|y"', { ttlMs: 500, tags: ['a|b', 'c'] })
    const entry = parseEntry(text)
    expect(entry).toBeDefined()
    if (!entry) return
    expect(metaOf(text, entry)).toEqual({ ttlMs: 500, tags: ['a|b', 'c'] })
    expect(JSON.parse(text.slice(entry.body))).toBe('x|y')
    const tagsOnly = entryText('c', 1, 2, 'p', { ttlMs: undefined, tags: ['t'] })
    const parsed = parseEntry(tagsOnly)
    expect(parsed && metaOf(tagsOnly, parsed)).toEqual({ ttlMs: undefined, tags: ['t'] })
    expect(parseEntry('j1:2;5;9;ab|x')).toBeUndefined()
    expect(parseEntry('j1:2;5|x')).toBeUndefined()
  })
})
