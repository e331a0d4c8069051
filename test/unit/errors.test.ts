import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { redactUrlCredentials, SecretScrubber, toRedkitError } from '../../src/core/errors.js'
import { ErrorCodes, RedkitError } from '../../src/index.js'

describe('errors', () => {
  it('RedkitError carries code, name and cause', () => {
    const cause = new Error('inner')
    const error = new RedkitError(ErrorCodes.E_DECODE, 'bad value', { cause })
    expect(error.name).toBe('RedkitError')
    expect(error.code).toBe('E_DECODE')
    expect(error.cause).toBe(cause)
    expect(error).toBeInstanceOf(Error)
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ code: 'E_DECODE', name: 'RedkitError' })
  })

  it('every code maps to itself', () => {
    for (const [key, value] of Object.entries(ErrorCodes)) expect(key).toBe(value)
  })

  it('redacts URL credentials and known secrets everywhere', () => {
    expect(redactUrlCredentials('connect redis://bob:hunter22@h:6379 failed')).toBe('connect redis://bob:***@h:6379 failed')
    expect(redactUrlCredentials('rediss://:p%40ss@h')).toBe('rediss://:***@h')
    expect(redactUrlCredentials('redis://u:p@ss/w@host:1/0 x')).toBe('redis://u:***@host:1/0 x')
    expect(redactUrlCredentials('a redis://h:1 and redis://u:pw@h:2')).toBe('a redis://h:1 and redis://u:***@h:2')
    const scrubber = new SecretScrubber()
    scrubber.add('hunter22')
    scrubber.add('p@ss word')
    const raw = new Error('auth hunter22 failed for p%40ss%20word')
    ;(raw as unknown as { options: unknown }).options = { password: 'hunter22' }
    const mapped = toRedkitError(raw, scrubber, 'ctx')
    const everything = `${mapped.message} ${mapped.stack} ${inspect(mapped, { depth: 10 })} ${JSON.stringify(mapped)}`
    expect(everything).not.toContain('hunter22')
    expect(everything).not.toContain('p%40ss%20word')
  })

  it('classifies driver errors', () => {
    const scrubber = new SecretScrubber()
    expect(toRedkitError(new Error('WRONGPASS invalid username-password pair'), scrubber, 'x').code).toBe('E_AUTH')
    expect(toRedkitError(new Error('connect ECONNREFUSED 127.0.0.1:1'), scrubber, 'x').code).toBe('E_CONNECTION')
    expect(toRedkitError(new Error('WRONGTYPE Operation against a key'), scrubber, 'x').code).toBe('E_REDIS')
    for (const driver of [
      'Disconnects client',
      'The client is offline',
      'The client is closed',
      'Socket closed unexpectedly',
      'All the root nodes are unavailable',
    ]) {
      expect(toRedkitError(new Error(driver), scrubber, 'x').code, driver).toBe('E_CONNECTION')
    }
  })
})

describe('redactUrlCredentials on URLs as users mistype them (review finding 6)', () => {
  it('never leaves what may be a password', () => {
    for (const [given, shown] of [
      ['redis://user:secret@host:1', 'redis://user:***@host:1'],
      ['redis://:p@ss@host', 'redis://:***@host'],
      ['redis:/:S3cret@127.0.0.1:1', 'redis:/***@127.0.0.1:1'],
      ['redis:S3cret@127.0.0.1:1', 'redis:***@127.0.0.1:1'],
      ['url must start with redis:// [redis:/:S3cret@h:1]', 'url must start with redis:// [redis:/***@h:1]'],
      ['rediss://host:6380/0', 'rediss://host:6380/0'],
      ['connect ECONNREFUSED 127.0.0.1:6379', 'connect ECONNREFUSED 127.0.0.1:6379'],
    ])
      expect(redactUrlCredentials(given as string)).toBe(shown)
  })
})

// Review 13 finding 6: Redis 7's wording for a PUBLISH a script may not send was E_SCRIPT.
describe('ACL denials inside scripts', () => {
  it('a channel a script may not publish to is E_PERMISSION, like a command it may not run', () => {
    const scrubber = new SecretScrubber()
    for (const text of [
      "ERR The user executing the script can't publish to the channel mentioned in the command script: abc, on @user_script:30.",
      "ERR The user executing the script can't run this command or subcommand script: abc, on @user_script:3.",
    ])
      expect(toRedkitError(new Error(text), scrubber, 'x').code, text).toBe('E_PERMISSION')
  })
})
