-- Advancing a repeating schedule. A schedule's pending occurrence is the job `schedule_next[sid]`
-- (`<sid>@<due ms>`). When that job leaves the waiting states (leased, drained, removed), the
-- schedule is put in the `advance` zset (score: when, server ms) until the worker that got it, or
-- any worker's recovery pass once it is stale, adds the following occurrence. The chain never
-- depends on a handler or on one process surviving. Self-contained include.

-- Marks the schedule of `id` for advance when `id` is its pending occurrence. Returns the schedule
-- id when it did, else nil.
local function mark_advance(schedule_next, advance, id, at)
  local sep = string.find(id, '@[^@]*$')
  if not sep then return nil end
  local sid = string.sub(id, 1, sep - 1)
  if redis.call('HGET', schedule_next, sid) ~= id then return nil end
  redis.call('ZADD', advance, at, sid)
  return sid
end

-- Appends what a worker needs to add the next occurrence of `sid`: id, version, definition JSON,
-- last occurrence id (flat, 4 values).
local function push_advance(out, schedules, definitions, schedule_next, sid)
  out[#out + 1] = sid
  out[#out + 1] = redis.call('HGET', schedules, sid) or ''
  out[#out + 1] = redis.call('HGET', definitions, sid) or ''
  out[#out + 1] = redis.call('HGET', schedule_next, sid) or ''
end
