import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { TestClock } from '../../src/core/clock.js'
import {
  Component,
  type ComponentHost,
  type ComponentOptions,
  EmitterComponent,
  type QuietComponentOptions,
} from '../../src/core/component.js'
import type { Closer } from '../../src/core/context.js'
import { ErrorCodes, errors, isRedkitError, RedkitError, SecretScrubber } from '../../src/core/errors.js'

/** A stand-in for the redkit instance: records what registers, closes it all like rk.close(). */
class Host implements ComponentHost {
  readonly closers = new Set<Closer>()
  readonly connection = { scrubber: new SecretScrubber() }
  onClose(closer: Closer): () => void {
    this.closers.add(closer)
    return () => this.closers.delete(closer)
  }
  async closeAll(): Promise<void> {
    await Promise.all([...this.closers].map((closer) => closer()))
  }
}

class Ticker extends EmitterComponent<{ error: [RedkitError]; tick: [number] }> {
  teardowns = 0
  #timer: ReturnType<TestClock['setInterval']> | undefined
  constructor(options: ComponentOptions) {
    super(options)
  }
  start(): void {
    this.assertOpen()
    this.#timer = this.clock.setInterval(() => this.emit('tick', this.clock.now()), 10)
  }
  fail(error: unknown): RedkitError | undefined {
    return this.report(error)
  }
  protected override async teardown(): Promise<void> {
    this.teardowns++
    this.clock.clearInterval(this.#timer)
    await Promise.resolve()
  }
}

class Quiet extends Component {
  teardowns = 0
  constructor(options: QuietComponentOptions) {
    super(options)
  }
  fail(error: unknown, context?: string): RedkitError | undefined {
    return this.report(error, context)
  }
  isClosed(): boolean {
    return this.closed
  }
  protected override teardown(): void {
    this.teardowns++
  }
}

describe('component lifecycle', () => {
  it('closes once however often close() is called, and tolerates close before start', async () => {
    const ticker = new Ticker({ name: 'ticker t' })
    const [a, b] = [ticker.close(), ticker.close()]
    expect(a).toBe(b)
    await a
    await ticker.close()
    expect(ticker.teardowns).toBe(1)
    expect(ticker.state).toBe('closed')
    expect(() => ticker.start()).toThrowError(expect.objectContaining({ code: ErrorCodes.E_CLOSED, message: 'ticker t is closed' }))
  })

  it('reports closing while teardown runs', async () => {
    const ticker = new Ticker({ name: 'ticker t' })
    const closing = ticker.close()
    expect(ticker.state).toBe('closing')
    expect(() => ticker.assertOpen()).toThrow(/ticker t is closed/)
    await closing
    expect(ticker.state).toBe('closed')
  })

  it('registers with the host and unregisters when closed directly', async () => {
    const host = new Host()
    const ticker = new Ticker({ name: 'ticker a', host })
    const other = new Ticker({ name: 'ticker b', host })
    expect(host.closers.size).toBe(2)
    await ticker.close()
    expect(host.closers.size).toBe(1)
    await host.closeAll()
    expect(other.state).toBe('closed')
    expect(other.teardowns).toBe(1)
  })

  it('drives its timers from the injected clock', async () => {
    const clock = new TestClock(5000)
    const ticker = new Ticker({ name: 'ticker', clock })
    const ticks: number[] = []
    ticker.on('tick', (at) => ticks.push(at))
    ticker.start()
    await clock.advance(30)
    expect(ticks).toEqual([5010, 5020, 5030])
    await ticker.close()
    await clock.advance(30)
    expect(ticks).toHaveLength(3)
    expect(clock.pending).toBe(0)
  })
})

describe('component report', () => {
  it('wraps anything into a scrubbed RedkitError named after the component, and counts it', () => {
    const host = new Host()
    host.connection.scrubber.add('hunter2-secret')
    const ticker = new Ticker({ name: 'cache users', host })
    const seen: RedkitError[] = []
    ticker.on('error', (error) => seen.push(error))
    const reported = ticker.fail(new Error('AUTH hunter2-secret failed for redis://u:pw@h:1'))
    expect(reported).toBeInstanceOf(RedkitError)
    expect(seen).toEqual([reported])
    expect(reported?.message).toBe('cache users: AUTH *** failed for redis://u:***@h:1')
    expect(reported?.message).not.toContain('hunter2')
    expect(String((reported?.cause as Error | undefined)?.stack)).not.toContain('hunter2')
    expect(ticker.errorCount).toBe(1)
    ticker.fail('a string')
    expect(seen[1]).toBeInstanceOf(RedkitError)
    expect(ticker.errorCount).toBe(2)
  })

  it('scrubs a RedkitError whose message echoes a secret, keeping its code', () => {
    const scrubber = new SecretScrubber()
    scrubber.add('topsecret')
    const quiet = new Quiet({ name: 'q', scrubber })
    const reported = quiet.fail(errors.invalidArgument('password', 'short', 'topsecret'))
    expect(reported?.code).toBe(ErrorCodes.E_INVALID_ARGUMENT)
    expect(reported?.message).toBe("password must be short, got '***'")
    const clean = errors.closed('x')
    expect(quiet.fail(clean)).toBe(clean)
  })

  it('never throws when nobody listens for error events', () => {
    const ticker = new Ticker({ name: 't' })
    expect(ticker.listenerCount('error')).toBe(0)
    expect(() => ticker.fail(new Error('nobody hears this'))).not.toThrow()
    expect(ticker.errorCount).toBe(1)
  })

  it('drops E_CLOSED once closed, but not before', async () => {
    const quiet = new Quiet({ name: 'q' })
    expect(quiet.fail(errors.closed('redkit'))?.code).toBe(ErrorCodes.E_CLOSED)
    await quiet.close()
    expect(quiet.isClosed()).toBe(true)
    expect(quiet.fail(errors.closed('redkit'))).toBeUndefined()
    expect(quiet.errorCount).toBe(1)
    expect(quiet.fail(new Error('still real'))?.code).toBe(ErrorCodes.E_REDIS)
  })

  it('delivers to an error sink: an emitter (only when it listens) or a hook (which may throw)', () => {
    const events = new EventEmitter<{ error: [RedkitError] }>()
    const viaEvents = new Quiet({ name: 'presence p', errors: events })
    expect(() => viaEvents.fail(new Error('x'))).not.toThrow()
    const got: RedkitError[] = []
    events.on('error', (error) => got.push(error))
    viaEvents.fail(new Error('y'), 'presence p reaper')
    expect(got[0]?.message).toBe('presence p reaper: y')
    const hooked: RedkitError[] = []
    const viaHook = new Quiet({
      name: 'near',
      errors: (error) => {
        hooked.push(error)
        throw new Error('hook bug')
      },
    })
    expect(() => viaHook.fail(new Error('z'))).not.toThrow()
    expect(isRedkitError(hooked[0])).toBe(true)
  })

  it('lets a teardown failure reach the caller of close(), once', async () => {
    class Failing extends Component {
      protected override teardown(): void {
        throw new Error('teardown failed')
      }
    }
    const failing = new Failing({ name: 'f' })
    await expect(failing.close()).rejects.toThrow('teardown failed')
    expect(failing.state).toBe('closed')
  })
})
