-- Sends a message on a cache's channel. `how` is PUBLISH (standalone, Sentinel) or SPUBLISH (the
-- channel is in the script's slot), or 'reply' on Cluster when it is not: then the message is kept
-- in `told`, returned after the script's result, and the caller SPUBLISHes it (a script cannot
-- SPUBLISH to another slot, and a classic PUBLISH is broadcast to every node of the cluster).
local told = {}
local function cache_tell(how, channel, text)
  if how == 'reply' then
    told[#told + 1] = text
  elseif how == 'PUBLISH' or how == 'SPUBLISH' then
    redis.call(how, channel, text)
  else
    error('cache_tell: unknown mode ' .. tostring(how))
  end
end
