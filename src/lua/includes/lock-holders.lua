-- Reads a lock's live holders (hash: token -> '<expiry ms>:<fencing token>:<weight>', '_f' the
-- last fencing token), dropping lapsed or unreadable entries so planted data cannot wedge the
-- lock. Every number is checked before it is used: Lua's tonumber accepts 'inf', 'nan' and 1e309,
-- and a fencing token at or past 2^53 cannot grow as a double; such a '_f' counts as missing (the
-- next token is then the server time in µs, still above every token a real grant wrote). Returns a
-- table: used (the weight held, not counting `token`), count (the holds, not counting `token`),
-- earliest (ms until the first of those lapses, -1: none), longest (ms until the last one lapses,
-- 0: none), last (the last fencing token), mine ({fencing token, ms left, weight} when `token` is a live holder), and seen (token ->
-- {fencing token, ms left} for the live holders among the set `watched`, counted in used as others).
local LOCK_MAX_FENCE = 9007199254740991
local LOCK_MAX_TTL = 2147483647
-- At most this many holds at once on one lock (semaphore permits, concurrent readers; MAX_HOLDERS
-- in src/lock/wire.ts): every script reads every holder, so this bounds its work. A hash with more
-- entries can only be planted; it is refused (E_TOO_LARGE) before anything is read or written,
-- rather than scanned for seconds while the whole server waits (review finding 6).
local LOCK_MAX_HOLDERS = 1000

local function lock_fence(text)
  if type(text) ~= 'string' or #text > 16 or not string.match(text, '^%d+$') then return nil end
  local n = tonumber(text)
  if n > LOCK_MAX_FENCE then return nil end
  return n
end

-- lock_fence for digits a pattern already matched: only the length and the bound are left to check.
local function lock_fence_digits(text)
  if #text > 16 then return nil end
  local n = tonumber(text)
  if n > LOCK_MAX_FENCE then return nil end
  return n
end

local function lock_holders(holders, now, token, watched)
  local size = redis.call('HLEN', holders)
  if size > LOCK_MAX_HOLDERS + 1 then
    error(redis.error_reply('E_TOO_LARGE ' .. holders .. ' has ' .. size .. ' fields, more than a lock can hold ('
      .. LOCK_MAX_HOLDERS .. ' holds): planted data; delete the key'))
  end
  local state = { used = 0, count = 0, earliest = -1, longest = 0, last = 0, mine = nil, seen = {} }
  local all = redis.call('HGETALL', holders)
  for i = 1, #all, 2 do
    local field = all[i]
    if field == '_f' then
      state.last = lock_fence(all[i + 1]) or 0
    else
      local expiry, fence, w = string.match(all[i + 1], '^(%d+):(%d+):(%d+)$')
      if fence then expiry, fence, w = tonumber(expiry), lock_fence_digits(fence), tonumber(w) end
      if not expiry or not fence or not w or expiry <= now or expiry - now > LOCK_MAX_TTL or w > LOCK_MAX_TTL then
        redis.call('HDEL', holders, field)
      else
        local left = expiry - now
        if left > state.longest then state.longest = left end
        if field == token then
          state.mine = { fence, left, w }
        else
          state.used = state.used + w
          state.count = state.count + 1
          if state.earliest < 0 or left < state.earliest then state.earliest = left end
          if watched and watched[field] then state.seen[field] = { fence, left } end
        end
      end
    end
  end
  return state
end

-- Whether a hold of weight `w` fits next to the live holds of `state` in `capacity`.
local function lock_fits(state, w, capacity)
  return state.count < LOCK_MAX_HOLDERS and state.used + w <= capacity
end
