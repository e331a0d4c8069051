-- A member's offline transition, recorded once: the member's record goes in the same step as its
-- offline event is appended, so a second call finds nothing to do. Self-contained include.

-- The offline transition of member `id`, lapsed at `at`, from its record `rec`.
local function offline_fields(id, at, rec)
  local s, lb, m = string.match(rec, '^(%d+),(%d+),(.*)$')
  local fields = { 't', 'offline', 'id', id, 'at', at, 's', s, 'lb', lb }
  if m ~= '' then
    fields[#fields + 1] = 'm'
    fields[#fields + 1] = string.sub(m, 2)
  end
  return fields
end

-- Records offline each of `ids` whose deadline has passed, appending each transition with
-- `append(fields)` (the caller's stream and retention); returns how many.
local function record_offline(members, deadlines, now, ids, append)
  local n = 0
  for _, id in ipairs(ids) do
    local deadline = redis.call('ZSCORE', deadlines, id)
    local rec = redis.call('HGET', members, id)
    if deadline and rec and tonumber(deadline) <= now then
      append(offline_fields(id, deadline, rec))
      redis.call('HDEL', members, id)
      redis.call('ZREM', deadlines, id)
      n = n + 1
    elseif rec == false and deadline then
      -- A deadline without a record cannot be online; drop it.
      redis.call('ZREM', deadlines, id)
    end
  end
  return n
end
