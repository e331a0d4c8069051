-- The oldest entry of a stream that some consumer group has not acknowledged yet: everything
-- before it was acknowledged by every group. Self-contained include.

-- Stream ids as { ms, seq } numbers, compared numerically ('10-0' > '9-5').
local function stream_id_parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms) or 0, tonumber(seq) or 0
end

local function stream_id_less(a, b)
  local am, as = stream_id_parts(a)
  local bm, bs = stream_id_parts(b)
  return am < bm or (am == bm and as < bs)
end

-- The smallest id not yet acknowledged by every group of `stream`: a group's oldest pending entry,
-- or the entry right after the last one it read. nil when the stream has no group.
local function stream_ack_floor(stream)
  if redis.call('EXISTS', stream) == 0 then return nil end
  local floor = nil
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local name, pending, last
    for i = 1, #info, 2 do
      local field = info[i]
      if field == 'name' then name = info[i + 1]
      elseif field == 'pending' then pending = tonumber(info[i + 1])
      elseif field == 'last-delivered-id' then last = info[i + 1] end
    end
    local candidate
    if pending and pending > 0 then
      candidate = redis.call('XPENDING', stream, name)[2]
    else
      local ms, seq = stream_id_parts(last or '0-0')
      candidate = string.format('%d-%d', ms, seq + 1)
    end
    if floor == nil or stream_id_less(candidate, floor) then floor = candidate end
  end
  return floor
end
