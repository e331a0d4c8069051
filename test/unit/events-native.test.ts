import { describe, expect, it } from 'vitest'
import { diffMasters, parseClusterSlots } from '../../src/events/native.js'

describe('native expirations: topology diffing', () => {
  it('parses a raw CLUSTER SLOTS reply into ranges with their master', () => {
    const reply = [
      [0, 5460, ['127.0.0.1', 7000, 'id-a', []], ['127.0.0.1', 7003, 'id-d', []]],
      [5461, 10922, ['127.0.0.1', 7001, 'id-b']],
      [10923, 16383, ['10.0.0.2', '7002', 'id-c', {}]],
      'garbage',
      [1, 2],
    ]
    expect(parseClusterSlots(reply)).toEqual([
      { from: 0, to: 5460, master: '127.0.0.1:7000', masterId: 'id-a' },
      { from: 5461, to: 10922, master: '127.0.0.1:7001', masterId: 'id-b' },
      { from: 10923, to: 16383, master: '10.0.0.2:7002', masterId: 'id-c' },
    ])
    expect(parseClusterSlots(null)).toEqual([])
  })

  it('subscribes new masters and drops removed ones', () => {
    expect(diffMasters(['a:1', 'b:1', 'c:1'], ['a:1', 'b:1', 'c:1'])).toEqual({ added: [], removed: [] })
    // A master added (resharding onto a new node).
    expect(diffMasters(['a:1', 'b:1', 'c:1'], ['a:1', 'b:1', 'c:1', 'd:1'])).toEqual({ added: ['d:1'], removed: [] })
    // Failover: c's replica e is the master now.
    expect(diffMasters(['a:1', 'b:1', 'c:1'], ['a:1', 'b:1', 'e:1'])).toEqual({ added: ['e:1'], removed: ['c:1'] })
    // Scale-in.
    expect(diffMasters(['a:1', 'b:1'], ['a:1'])).toEqual({ added: [], removed: ['b:1'] })
    expect(diffMasters([], ['a:1', 'a:1'])).toEqual({ added: ['a:1'], removed: [] })
  })
})
