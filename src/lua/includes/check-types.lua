-- Planted data (issue 13): Redis keeps a script's writes up to the command that fails, so a key of
-- the wrong type met halfway leaves an operation half done (a job's hash written but the job in no
-- list, a job popped from the ready list but never leased). A script passes every key it may touch
-- to check_types BEFORE its first write and returns the refusal it gets: nothing is written, and
-- once the garbage is gone the same call works. `keys` is flat: { key, kind, key, kind, ... }; kind
-- is a Redis type ('list', 'zset', 'hash', 'string'), or 'counter' (a string holding an integer,
-- for INCR and tonumber). An absent key is always fine; a key listed twice is looked at once.
-- `found` (optional) receives each typed key's TYPE ('none' when absent), so a caller that needs
-- to know whether a key exists does not ask again. Returns nil, or an E_DECODE error reply.
-- Self-contained include.
local function check_types(keys, found)
  local seen = {}
  for i = 1, #keys, 2 do
    local key, want = keys[i], keys[i + 1]
    if not seen[key] then
      seen[key] = true
      local bad
      if want == 'counter' then
        local value = redis.pcall('GET', key)
        if type(value) == 'table' then
          bad = 'a ' .. redis.call('TYPE', key).ok
        elseif value and (#value > 18 or not string.match(value, '^%-?%d+$')) then
          bad = 'a string that is not an integer'
        end
      else
        local kind = redis.call('TYPE', key).ok
        if found then found[key] = kind end
        if kind ~= want and kind ~= 'none' then bad = 'a ' .. kind end
      end
      if bad then
        return redis.error_reply('E_DECODE ' .. key .. ' holds ' .. bad .. ', not the ' .. want .. ' redkit writes there: refused, nothing was written')
      end
    end
  end
  return nil
end
