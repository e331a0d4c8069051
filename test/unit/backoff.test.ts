import { describe, expect, it } from 'vitest'
import { backoffDelay, sleep, validateCount, validateMs } from '../../src/core/backoff.js'
import { isRedkitError } from '../../src/index.js'

describe('backoff', () => {
  it('grows exponentially up to the cap, fixed stays fixed', () => {
    const none = () => 0
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, { delayMs: 100, jitter: 0 }, none))).toEqual([100, 200, 400, 800])
    expect(backoffDelay(30, { delayMs: 100, maxDelayMs: 5000 }, none)).toBe(5000)
    expect(backoffDelay(7, { type: 'fixed', delayMs: 250 }, none)).toBe(250)
  })

  it('jitter only shortens, within the fraction', () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, { delayMs: 100, jitter: 0.5 })
      expect(d).toBeGreaterThanOrEqual(200)
      expect(d).toBeLessThanOrEqual(400)
    }
  })

  it('validates durations', () => {
    for (const bad of [0, -1, Number.NaN, 1.5, 2 ** 53, '10', null]) {
      let code: string | undefined
      try {
        validateMs(bad, 'ttlMs')
      } catch (error) {
        code = isRedkitError(error) ? error.code : 'other'
      }
      expect(code, String(bad)).toBe('E_INVALID_ARGUMENT')
    }
    expect(validateMs(0, 'delayMs', { allowZero: true })).toBe(0)
    expect(() => validateCount(0, 'attempts')).toThrow(/attempts must be a positive integer, got 0/)
    expect(() => validateCount(2.5, 'attempts')).toThrow(/positive integer/)
    expect(validateCount(0, 'retries', { allowZero: true })).toBe(0)
    expect(validateMs(2 ** 53 - 1, 'ttlMs')).toBe(2 ** 53 - 1)
  })

  it('sleep is cut short by an AbortSignal', async () => {
    const controller = new AbortController()
    const started = Date.now()
    const pending = sleep(10_000, controller.signal)
    controller.abort(new Error('stop'))
    await expect(pending).rejects.toThrow('stop')
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
