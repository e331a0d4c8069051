import { parseStoredOptions } from './job.js'
import type { PreparedJob } from './options.js'
import type { Queue } from './queue.js'
import { nextOccurrence, occurrenceDue, occurrenceId, parseDefinition } from './repeat.js'

/** How many due times an advance skips at most when their occurrences already exist (they ran). */
const MAX_SKIPS = 5

/**
 * Adds the next occurrence of each schedule `queue-next` handed over (4 values each: id, version,
 * definition JSON, last occurrence id). The script recorded the advance before replying, so a
 * failure here (or a crash) only delays it: any worker's recovery pass takes a stale advance over.
 * Resolves how many occurrences were added.
 */
export async function advanceSchedules(queue: Queue<unknown>, advances: string[], serverNow: number): Promise<number> {
  let added = 0
  for (let i = 0; i + 3 < advances.length; i += 4) {
    const [id, version, definitionText, lastId] = advances.slice(i, i + 4) as [string, string, string, string]
    if (version === '' || definitionText === '') continue
    const template = parseDefinition(definitionText)?.job
    // A definition stored by an older redkit has no template (the next registration adds it); one
    // that is not JSON cannot be advanced either.
    if (!template) continue
    const repeat = parseStoredOptions(template.o, id).rp
    if (!repeat) continue
    let due = Math.max(occurrenceDue(lastId) ?? serverNow, serverNow)
    for (let skip = 0; skip < MAX_SKIPS; skip++) {
      const next = nextOccurrence(repeat, due)
      if (next === undefined) {
        // The schedule has ended: nothing to add, and nothing left to advance.
        await queue.endAdvance(id)
        break
      }
      const job: PreparedJob = {
        id: occurrenceId(id, next),
        unique: true,
        data: template.d,
        options: template.o,
        priority: template.p,
        dueAt: next,
      }
      const reply = await queue.addOccurrence(job, { id, version })
      if (reply !== 0) {
        if (reply === 1) added++
        break
      }
      due = next
    }
  }
  return added
}
