import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type Codec,
  createRedkit,
  type DoctorReport,
  type ErrorCode,
  ErrorCodes,
  isRedkitError,
  type Redkit,
  RedkitError,
  type RedkitOptions,
  type Subscription,
} from '../../src/index.js'

// Compile-time checks (tsc runs over test/): the instance, its options, errors and events keep the
// types the docs give them. The function is never called.
async function typings() {
  const rk = await createRedkit({ url: 'redis://127.0.0.1:1', prefix: 'app' })
  expectTypeOf(rk).toEqualTypeOf<Redkit>()
  expectTypeOf(rk.topology).toEqualTypeOf<'standalone' | 'cluster' | 'sentinel'>()
  expectTypeOf(await rk.ping()).toBeNumber()
  expectTypeOf(await rk.doctor()).toEqualTypeOf<DoctorReport>()
  expectTypeOf(rk.close()).toEqualTypeOf<Promise<void>>()
  rk.on('error', (error) => {
    expectTypeOf(error).toEqualTypeOf<RedkitError>()
    expectTypeOf(error.code).toEqualTypeOf<ErrorCode>()
  })
  rk.on('reconnecting', ({ attempt, delayMs, error }) => {
    expectTypeOf(attempt).toBeNumber()
    expectTypeOf(delayMs).toBeNumber()
    expectTypeOf(error).toEqualTypeOf<Error>()
  })
  // @ts-expect-error only the documented events exist
  rk.on('connected', () => {})

  expectTypeOf<RedkitOptions['cluster']>().toMatchTypeOf<{ rootNodes: Array<string | { host: string; port: number }> } | undefined>()
  expectTypeOf<RedkitOptions['credentials']>().toEqualTypeOf<
    (() => { username?: string | undefined; password: string } | Promise<{ username?: string | undefined; password: string }>) | undefined
  >()
  // @ts-expect-error durations are numbers of milliseconds
  await createRedkit({ connectTimeoutMs: '5s' })
  const codec: Codec = { name: 'text', encode: (value) => String(value), decode: (text) => text }
  await createRedkit({ codec })

  const caught: unknown = new Error('x')
  if (isRedkitError(caught, ErrorCodes.E_TIMEOUT)) expectTypeOf(caught.details).toEqualTypeOf<Record<string, unknown> | undefined>()
  // @ts-expect-error codes are a closed set
  isRedkitError(caught, 'E_NOPE')

  const sub = await rk.expirations.on('app:*', (event) => {
    expectTypeOf(event.key).toBeString()
  })
  expectTypeOf(sub).toMatchTypeOf<Subscription>()
}

describe('core types', () => {
  it('compile (checked by tsc)', () => {
    expect(typeof typings).toBe('function')
  })

  it('error codes are their own names, so a code reads the same in logs and in code', () => {
    for (const [name, code] of Object.entries(ErrorCodes)) expect(code).toBe(name)
    expect(new RedkitError(ErrorCodes.E_TIMEOUT, 'x').toJSON()).toMatchObject({ name: 'RedkitError', code: 'E_TIMEOUT' })
  })
})
