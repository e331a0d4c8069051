-- Stream retention by age. MINID with '~' trims whole macro nodes only, which keeps it cheap; a
-- few entries older than the bound may stay. Self-contained include.

-- Appends `fields` to `stream` and, when `retention` > 0 (ms), drops entries older than
-- `now - retention` in the same command.
local function append_retained(stream, now, retention, fields)
  if retention > 0 then
    return redis.call('XADD', stream, 'MINID', '~', string.format('%d', math.max(0, now - retention)), '*', unpack(fields))
  end
  return redis.call('XADD', stream, '*', unpack(fields))
end

-- Drops the entries of `stream` before `min_id` ('0' keeps everything).
local function trim_before(stream, min_id)
  if min_id ~= '0' then redis.call('XTRIM', stream, 'MINID', '~', min_id) end
end
