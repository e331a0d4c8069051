-- Removes a job that has not started from wherever it waits: the delayed zset (with its delayed
-- priority), the prioritized zset or the ready list. Returns 1 when it was found, else 0. The job's
-- hash is the caller's to delete. Self-contained include.
local function remove_waiting(ready, prioritized, delayed, delayed_priorities, id)
  if redis.call('ZREM', delayed, id) == 1 then
    redis.call('HDEL', delayed_priorities, id)
    return 1
  end
  if redis.call('ZREM', prioritized, id) == 1 then return 1 end
  return redis.call('LREM', ready, 1, id)
end

-- Whether a job waits (delayed, prioritized or ready). LPOS scans the ready list: for rare calls
-- (registering a schedule), never per job.
local function is_waiting(ready, prioritized, delayed, id)
  if redis.call('ZSCORE', delayed, id) or redis.call('ZSCORE', prioritized, id) then return true end
  return redis.call('LPOS', ready, id) ~= false
end
