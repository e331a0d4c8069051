import { describe, expect, it } from 'vitest'
import { newJobId } from '../../src/messaging/ids.js'
import { normalizeBackoff, prepareJob, retryDelay } from '../../src/messaging/options.js'
import { thrownCode } from '../support/expect.js'

describe('job backoff', () => {
  it('grows exponentially, caps, and applies jitter downwards only', () => {
    const policy = normalizeBackoff({ type: 'exponential', delayMs: 100, maxDelayMs: 1000, jitter: 0 })!
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(policy, n))).toEqual([100, 200, 400, 800, 1000])
    const jittered = normalizeBackoff({ delayMs: 1000, jitter: 0.5 })!
    expect(retryDelay(jittered, 1, () => 0)).toBe(1000)
    expect(retryDelay(jittered, 1, () => 1)).toBe(500)
    expect(retryDelay(jittered, 2, () => 0.5)).toBe(1500)
  })

  it('treats a number as a fixed delay without jitter', () => {
    const fixed = normalizeBackoff(250)!
    expect([1, 2, 7].map((n) => retryDelay(fixed, n))).toEqual([250, 250, 250])
  })

  it('rejects bad policies', () => {
    expect(thrownCode(() => normalizeBackoff(-1))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => normalizeBackoff({ type: 'linear' as 'fixed' }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => normalizeBackoff({ jitter: 2 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(() => normalizeBackoff({ delayMs: Number.POSITIVE_INFINITY }))).toBe('E_INVALID_ARGUMENT')
  })
})

describe('prepareJob', () => {
  const now = 1_000_000
  it('stores only what differs from the defaults, and computes the due time', () => {
    const job = prepareJob('"x"', { attempts: 4, backoff: 10, delayMs: 500 }, undefined, now, () => 'gen')
    expect(job).toEqual({
      id: 'gen',
      unique: false,
      data: '"x"',
      options: '{"at":4,"bo":{"t":"f","d":10,"m":3600000,"j":0}}',
      priority: 0,
      dueAt: now + 500,
    })
    expect(prepareJob('1', { runAt: new Date(now - 5) }, undefined, now, () => 'g').dueAt).toBe(0)
    expect(prepareJob('1', { jobId: 'mine' }, { priority: 7 }, now, () => 'g')).toMatchObject({
      id: 'mine',
      unique: true,
      priority: 7,
      options: '{}',
    })
  })

  it('rejects bad options', () => {
    const prep = (o: object) => () => prepareJob('1', o, undefined, now, () => 'g')
    expect(thrownCode(prep({ priority: 1.5 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(prep({ priority: 2 ** 21 + 1 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(prep({ attempts: 0 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(prep({ runAt: 'tomorrow' }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(prep({ delayMs: -1 }))).toBe('E_INVALID_ARGUMENT')
    expect(thrownCode(prep({ jobId: 'x'.repeat(2000) }))).toBe('E_INVALID_KEY')
  })

  it('generates unique ids without a round trip', () => {
    const ids = new Set(Array.from({ length: 10_000 }, newJobId))
    expect(ids.size).toBe(10_000)
    for (const id of ids) expect(id).not.toContain(':')
  })
})
