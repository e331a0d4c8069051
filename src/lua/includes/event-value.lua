-- Expiry events are appended in batches: one stream entry carries up to `per_entry` events, so a
-- sweep costs one XADD per batch and a reader one read and one acknowledgement per batch, not per
-- event. Readers still handle, retry, count attempts of and dead-letter each event on its own (see
-- src/events/group-reader.ts). Self-contained include.
--
-- Entry fields: '' = 'b1' (the format; no user key is empty), then per event: key = deadline, or
-- key = deadline .. '|' when a value is kept. Kept values go to a stream of their own under the
-- same id (field = the event's position in the entry, from 1), so they can be dropped as soon as
-- every group acknowledged the entry while the small event entry stays for the replay window.

local function new_event_batch(stream, values, per_entry)
  return { stream = stream, values = values, per = math.max(1, per_entry), fields = { '', 'b1' }, kept = {}, n = 0 }
end

local function event_batch_flush(b)
  if b.n == 0 then return end
  local id = redis.call('XADD', b.stream, '*', unpack(b.fields))
  -- Fails only when the values stream outlived its event stream (the stream alone was deleted or
  -- evicted) and holds a later id: the events are still delivered, without their values.
  if #b.kept > 0 then redis.pcall('XADD', b.values, id, unpack(b.kept)) end
  b.fields = { '', 'b1' }
  b.kept = {}
  b.n = 0
end

-- `value`: the kept value, or nil/false for none.
local function event_batch_add(b, key, deadline, value)
  b.n = b.n + 1
  local f = b.fields
  f[#f + 1] = key
  if value then
    f[#f + 1] = deadline .. '|'
    b.kept[#b.kept + 1] = tostring(b.n)
    b.kept[#b.kept + 1] = value
  else
    f[#f + 1] = deadline
  end
  if b.n >= b.per then event_batch_flush(b) end
end
