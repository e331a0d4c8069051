import { describe, expect, it } from 'vitest'
import { closeClient, withTimeout } from '../../src/core/async.js'
import { TestClock } from '../../src/core/clock.js'
import { ErrorCodes, errors, isRedkitError } from '../../src/core/errors.js'

describe('withTimeout', () => {
  it('resolves with the work when it settles first, and clears its timer', async () => {
    const clock = new TestClock()
    const result = await withTimeout(Promise.resolve(7), 100, () => -1, { clock })
    expect(result).toBe(7)
    expect(clock.pending).toBe(0)
  })

  it('yields what onTimeout returns when time runs out first', async () => {
    const clock = new TestClock()
    const waiting = withTimeout(new Promise<number>(() => {}), 100, () => 'late' as const, { clock })
    await clock.advance(99)
    let settled = false
    void waiting.then(() => {
      settled = true
    })
    await clock.advance(0)
    expect(settled).toBe(false)
    await clock.advance(1)
    expect(await waiting).toBe('late')
  })

  it('rejects with what onTimeout throws', async () => {
    const clock = new TestClock()
    const waiting = withTimeout(
      new Promise(() => {}),
      50,
      () => {
        throw errors.timeout('the loader', 50)
      },
      { clock },
    )
    const caught = waiting.catch((error: unknown) => error)
    await clock.advance(50)
    const error = await caught
    expect(isRedkitError(error, ErrorCodes.E_TIMEOUT)).toBe(true)
    expect((error as Error).message).toBe('the loader did not finish within 50 ms')
  })

  it('turns a synchronous throw of a work function into a rejection', async () => {
    await expect(
      withTimeout(
        () => {
          throw new Error('boom')
        },
        1000,
        () => 0,
      ),
    ).rejects.toThrow('boom')
  })

  it('passes the work rejection through and ignores a late settlement', async () => {
    const clock = new TestClock()
    await expect(withTimeout(Promise.reject(new Error('no')), 10, () => 1, { clock })).rejects.toThrow('no')
    let resolveLate: (v: number) => void = () => {}
    const waiting = withTimeout(new Promise<number>((r) => (resolveLate = r)), 10, () => -1, { clock })
    await clock.advance(10)
    resolveLate(5)
    expect(await waiting).toBe(-1)
  })
})

function fakeClient(closeBehaviour: 'ok' | 'hang' | 'fail', isOpen = true) {
  const calls: string[] = []
  const listeners: Array<() => void> = []
  return {
    calls,
    listeners,
    isOpen,
    close() {
      calls.push('close')
      if (closeBehaviour === 'ok') return Promise.resolve()
      if (closeBehaviour === 'fail') return Promise.reject(new Error('closing failed'))
      return new Promise(() => {})
    },
    destroy() {
      calls.push('destroy')
    },
    on(_event: 'connect', listener: () => void) {
      listeners.push(listener)
    },
  }
}

describe('closeClient', () => {
  it('closes gracefully when the client answers within the grace period', async () => {
    const client = fakeClient('ok')
    await closeClient(client, 1000)
    expect(client.calls).toEqual(['close'])
  })

  it('destroys the socket when the graceful close hangs past the grace period', async () => {
    const clock = new TestClock()
    const client = fakeClient('hang')
    const closing = closeClient(client, 500, { clock })
    await clock.advance(499)
    expect(client.calls).toEqual(['close'])
    await clock.advance(1)
    await closing
    expect(client.calls).toEqual(['close', 'destroy'])
  })

  it('destroys at once with no grace, a failed close, or a client that is not open', async () => {
    const none = fakeClient('ok')
    await closeClient(none, 0)
    expect(none.calls).toEqual(['destroy'])
    const failing = fakeClient('fail')
    await closeClient(failing, 1000)
    expect(failing.calls).toEqual(['close', 'destroy'])
    const shut = fakeClient('ok', false)
    await closeClient(shut, 1000)
    expect(shut.calls).toEqual(['destroy'])
  })

  it('destroys a socket that a reconnect opens after the close', async () => {
    const client = fakeClient('ok')
    await closeClient(client, 1000)
    for (const listener of client.listeners) listener()
    expect(client.calls).toEqual(['close', 'destroy'])
  })

  it('never rejects, even when destroy throws', async () => {
    const client = {
      ...fakeClient('fail'),
      destroy: () => {
        throw new Error('gone')
      },
    }
    await expect(closeClient(client, 10)).resolves.toBeUndefined()
  })
})
