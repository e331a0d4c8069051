-- Write-behind: one write of `key` left the stream (`wb_forget(latest, queued, key, id)`). A key's
-- newest id is kept while any write of the key is still in the stream, applied or not: an older
-- write re-claimed from a consumer that died before its ack is then still seen as superseded, and
-- is not applied over the newer one. Forgotten with the last write of the key, so both hashes only
-- hold keys with writes queued. A key without a count (or a planted one) was queued by an older redkit.
local function wb_forget(latest, queued, key, id)
  local left = tonumber(redis.call('HGET', queued, key))
  if left and left > 1 then
    redis.call('HSET', queued, key, left - 1)
  elseif left then
    redis.call('HDEL', queued, key)
    redis.call('HDEL', latest, key)
  elseif redis.call('HGET', latest, key) == id then
    redis.call('HDEL', latest, key)
  end
end
