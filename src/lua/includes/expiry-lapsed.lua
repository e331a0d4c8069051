-- A key's expiry that already happened, kept when the key's deadline entry is about to be
-- overwritten (the key is written again before a sweeper delivered it, or a sweeper claimed it and
-- died). It becomes an index member of its own, `<key>\0<deadline>` (key names hold no control
-- characters), so the sweep delivers it with its own id. Self-contained include.

local LAPSED_SEP = '\0'

-- Call before writing `key`'s new deadline. `index`, `values`, `claimed`: the slot's deadline
-- index, kept values and original deadlines of claims. `now`: server time in ms.
local function keep_lapsed(index, values, claimed, key, now)
  local score = redis.call('ZSCORE', index, key)
  if not score then return end
  local original = redis.call('HGET', claimed, key)
  if original then
    -- A sweeper claimed it (the key was gone then): the expiry happened; keep its lease.
    redis.call('HSET', claimed, key .. LAPSED_SEP .. original, original)
  else
    if tonumber(score) > now or redis.call('EXISTS', key) == 1 then return end
    original = score
  end
  local member = key .. LAPSED_SEP .. original
  redis.call('ZADD', index, score, member)
  local value = redis.call('HGET', values, key)
  if value then redis.call('HSET', values, member, value) end
end

-- The user key and the deadline of an index member: a lapsed member carries its own deadline.
local function member_key(member)
  local at = string.find(member, LAPSED_SEP, 1, true)
  if at then return string.sub(member, 1, at - 1), string.sub(member, at + 1) end
  return member, nil
end
