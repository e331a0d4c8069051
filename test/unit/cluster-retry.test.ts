import { describe, expect, it } from 'vitest'
import { clusterRetryDelayMs, clusterRetryOf } from '../../src/core/cluster-retry.js'
import { SecretScrubber } from '../../src/core/errors.js'
import { NODE_GAVE_UP, ReconnectPolicy } from '../../src/core/reconnect-policy.js'

describe('cluster retry', () => {
  it('resends only what Redis certainly did not run', () => {
    expect(clusterRetryOf(new Error('TRYAGAIN Multiple keys request during rehashing of slot'))).toBe('wait')
    expect(clusterRetryOf(new Error('LOADING Redis is loading the dataset in memory'))).toBe('wait')
    expect(clusterRetryOf(new Error('CLUSTERDOWN The cluster is down'))).toBe('refresh')
    expect(clusterRetryOf(new Error("READONLY You can't write against a read only replica."))).toBe('refresh')
    expect(clusterRetryOf(new Error('The client is offline'))).toBe('refresh')
    expect(clusterRetryOf(new Error('The client is closed'))).toBe('refresh')
    expect(clusterRetryOf(new Error(`${NODE_GAVE_UP}: connect ECONNREFUSED 127.0.0.1:7000`))).toBe('refresh')
    // Written, maybe run: never resent.
    expect(clusterRetryOf(new Error('Socket closed unexpectedly'))).toBeUndefined()
    expect(clusterRetryOf(new Error('ERR unknown command'))).toBeUndefined()
    expect(clusterRetryOf(new Error('some text mentioning TRYAGAIN later'))).toBeUndefined()
    expect(clusterRetryOf('TRYAGAIN')).toBeUndefined()
  })

  it('backs off from 25 ms to at most 400 ms', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(clusterRetryDelayMs)).toEqual([25, 50, 100, 200, 400, 400, 400])
  })

  it('gives up a node client after two refusals once connected, and never before the first connection', () => {
    let everReady = false
    const policy = new ReconnectPolicy({
      scrubber: new SecretScrubber(),
      connectTimeoutMs: 5000,
      maxReconnectDelayMs: 500,
      everReady: () => everReady,
      closed: () => false,
      reconnecting: () => {},
      error: () => {},
    })
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:7000')
    expect(typeof policy.nodeStrategy(5, refused)).toBe('number')
    everReady = true
    expect(typeof policy.nodeStrategy(0, refused)).toBe('number')
    expect(typeof policy.nodeStrategy(1, refused)).toBe('number')
    const gaveUp = policy.nodeStrategy(2, refused)
    expect(gaveUp).toBeInstanceOf(Error)
    expect((gaveUp as Error).message.startsWith(NODE_GAVE_UP)).toBe(true)
    // The main connection's own clients keep trying.
    expect(typeof policy.strategy(50, refused)).toBe('number')
  })
})
