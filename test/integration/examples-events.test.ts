import { describe, expect, it } from 'vitest'
import { runExample as runChildExample } from '../support/child.js'
import { standaloneUrl } from '../support/redis.js'

const runExample = (file: string, timeoutMs?: number) => runChildExample(file, { REDIS_URL: standaloneUrl() }, timeoutMs)

const lines = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line))

describe('events examples', () => {
  it('cache-reload-on-expiry reloads the product from the database each time it expires', async () => {
    const { code, stdout, stderr } = await runExample('cache-reload-on-expiry.ts')
    expect(code, stderr).toBe(0)
    expect(lines(stdout, /cached cache:products:1 \(price 199\)/)).toHaveLength(1)
    expect(lines(stdout, /cache:products:1 expired -?\d+ ms after its deadline/)).toHaveLength(3)
    expect(lines(stdout, /reloaded from the database/)).toHaveLength(3)
    // The reload after the price change picked up the new price.
    expect(lines(stdout, /reloaded from the database \(load #4\): price 179/)).toHaveLength(1)
    expect(stdout).toMatch(/done: 3 expirations, 3 reloads, 4 database loads/)
  })

  it('device-offline reports the device that stops beating offline exactly once, and no other', async () => {
    const { code, stdout, stderr } = await runExample('device-offline.ts')
    expect(code, stderr).toBe(0)
    for (const id of ['sensor-1', 'sensor-2', 'sensor-3']) expect(lines(stdout, new RegExp(`${id} is online`))).toHaveLength(1)
    expect(lines(stdout, /is OFFLINE/)).toEqual([expect.stringMatching(/sensor-3 is OFFLINE/)])
    expect(stdout).toMatch(/online now: sensor-1, sensor-2 \(2\); offline reports: 1/)
  })

  it('session-expiry reports the idle session once, drops it from the user’s devices, and logs out everywhere', async () => {
    const { code, stdout, stderr } = await runExample('session-expiry.ts')
    expect(code, stderr).toBe(0)
    expect(stdout).toMatch(/ada signed in on 2 devices: /)
    expect(lines(stdout, /expired \(idle\)/)).toEqual([expect.stringMatching(/of ada expired/)])
    expect(stdout).toMatch(/phone session still valid: false/)
    expect(stdout).toMatch(/ada's devices now: Firefox on a laptop\n/)
    expect(stdout).toMatch(/log out everywhere: 1 session\(s\) ended/)
    expect(stdout).toMatch(/done: 1 expiry reported, laptop session valid: false/)
  })

  it('sso-two-apps: two Express apps on different ports share one login, and a logout in one ends it in both', async () => {
    const { code, stdout, stderr } = await runExample('sso-two-apps.ts')
    expect(code, stderr).toBe(0)
    const [, mailPort, docsPort] = /mail on http:\/\/127\.0\.0\.1:(\d+), docs on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout) ?? []
    expect(mailPort).toBeDefined()
    expect(mailPort).not.toBe(docsPort)
    expect(stdout).toMatch(/docs before signing in: 401/)
    expect(stdout).toMatch(/mail login: 200 mail: signed in as ada/)
    // docs lets the user in from the shared cookie, once; then from its own session.
    expect(stdout).toMatch(
      /docs: 200 docs: hello ada \(joined the login, no password asked\), visit 1\n.*docs: 200 docs: hello ada, visit 2/,
    )
    expect(stdout).toMatch(/devices: 200 docs: 1 login\(s\); sessions per app: docs 1, mail 1/)
    expect(stdout).toMatch(/devices with a phone too: 200 mail: 2 login\(s\); sessions per app: docs 2, mail 1/)
    expect(stdout).toMatch(/docs logout: 200 docs: signed out of every app/)
    expect(stdout).toMatch(/mail after logout in docs: 401 mail: please sign in/)
    expect(stdout).toMatch(/phone still signed in: 200 mail: hello ada \(joined the login/)
    expect(stdout).toMatch(/done: "log out everywhere" ended the 3 session\(s\) left/)
  })
})
