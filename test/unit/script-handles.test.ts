import { describe, expect, it } from 'vitest'
import { hashSlot, KeySpace } from '../../src/core/keys.js'
import { KeyedScript } from '../../src/core/scripts.js'
import { queueKeys } from '../../src/messaging/queue-keys.js'
import * as queueScripts from '../../src/messaging/queue-scripts.js'

// The Lua header is the one list of KEYS: each handle builds its KEYS from the identifiers the
// header names, so a handle whose key object lacks one of them, or a header entry without a name,
// fails here rather than at a call site.
const k = queueKeys(new KeySpace('t'), 'jobs')
type AnyHandle = KeyedScript<object, never, unknown>
const handles: Array<[string, AnyHandle]> = []
for (const [name, value] of Object.entries(queueScripts) as Array<[string, unknown]>) {
  if (value instanceof KeyedScript) handles.push([name, value as AnyHandle])
}
const sample = { ...queueScripts.withJob(k, 'job-1'), finished: k.completed }

describe('queue script handles', () => {
  it('covers every queue script', () => {
    expect(handles.map(([, h]) => h.source.name).sort()).toEqual(
      [
        'queue-add',
        'queue-cancel',
        'queue-clean',
        'queue-counts',
        'queue-delay',
        'queue-log',
        'queue-logs',
        'queue-priority',
        'queue-update',
        'queue-drain',
        'queue-extend',
        'queue-get',
        'queue-next',
        'queue-pause',
        'queue-progress',
        'queue-release',
        'queue-retry-dead',
        'queue-schedule',
        'queue-worker-beat',
        'queue-workers',
      ].sort(),
    )
  })

  it.each(handles)('%s builds its KEYS from the header names, all in the queue slot', (_name, handle) => {
    expect(handle.keyIds).toEqual(handle.source.keyIds)
    const keys = handle.keys(sample)
    expect(keys).toHaveLength(handle.source.numKeys)
    for (const [i, key] of keys.entries()) {
      expect(key, `KEYS[${i + 1}] ${handle.source.keyNames[i]}`).toBe((sample as Record<string, unknown>)[String(handle.keyIds[i])])
      expect(hashSlot(key)).toBe(hashSlot(k.ready))
    }
  })

  it('queue-next takes its 17 keys in header order', () => {
    expect(queueScripts.nextScript.keys(k)).toEqual([
      k.ready,
      k.prioritized,
      k.delayed,
      k.active,
      k.completed,
      k.dead,
      k.wake,
      k.meta,
      k.limiter,
      k.prioritySequence,
      k.delayedPriorities,
      k.schedules,
      k.scheduleDefinitions,
      k.scheduleNext,
      k.scheduleAdvance,
      k.callPrefix,
      k.jobPrefix,
    ])
  })
})
