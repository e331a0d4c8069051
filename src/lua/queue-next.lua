--[[ A worker's one round trip: settles the jobs it finished, promotes due delayed jobs, recovers
  jobs whose lease expired (their worker died or stalled), and leases up to N new jobs.
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset
  KEYS[3] delayed: delayed zset
  KEYS[4] active: active zset (member '<token>:<job id>', score lease deadline in ms, server clock)
  KEYS[5] completed: completed zset (score finish time)
  KEYS[6] dead: dead zset (score finish time)
  KEYS[7] wake: wake list
  KEYS[8] meta: meta hash (field 'paused')
  KEYS[9] limiter: rate limiter counter
  KEYS[10] prioritySequence: priority sequence counter
  KEYS[11] delayedPriorities: priorities of delayed jobs hash
  KEYS[12] schedules: schedules hash (schedule id -> version)
  KEYS[13] scheduleDefinitions: schedule definitions hash (schedule id -> definition JSON)
  KEYS[14] scheduleNext: pending occurrence of each schedule hash (schedule id -> job id)
  KEYS[15] scheduleAdvance: zset of schedules whose next occurrence is to be added (score: since when)
  KEYS[16] callPrefix: prefix of each worker's call record: this prefix followed by the worker id
  KEYS[17] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] lease length, ms
  ARGV[2] jobs wanted N (0 = settle only)
  ARGV[3] token prefix '<worker id>.<call seq>.': the i-th leased job gets token '<prefix><i>' (no ':');
    a call sent again with the same prefix (its reply was lost) gets the first call's leases and statuses back
  ARGV[4] 1 = promote due delayed jobs now
  ARGV[5] 1 = recover expired leases (and stale schedule advances) now
  ARGV[6] 1 = this call follows a wake marker (pass the wake-up on while jobs remain)
  ARGV[7] rate limit: max jobs per window (0 = none)
  ARGV[8] rate limit window, ms
  ARGV[9] completed jobs kept: -1 all, 0 none (delete on completion), else the newest K
  ARGV[10] retention now: '0' = not now; '1' = trim the completed set to K; or
    '<completed max age ms>:<dead letters kept>:<dead max age ms>' (each -1 = no bound): the completed
    set is trimmed to K and to that age, the dead letters to that count and age (at most 1,000 jobs each per call)
  ARGV[11] stalls allowed: a job whose lease expired more often than this is dead-lettered (E_JOB_LOST)
  ARGV[12] number of outcomes M; then 7 values per outcome:
  ARGV[13] active member ('<token>:<job id>')
  ARGV[14] kind: 'c' completed, 'r' retry, 'd' dead letter
  ARGV[15] result (c) or error message (r, d)
  ARGV[16] error details JSON (r, d) or ''
  ARGV[17] processing start, ms (server clock, from the fetch reply)
  ARGV[18] attempts made, including this one (r, d)
  ARGV[19] retry delay ms (r), and the job's priority after a colon: '<delay>:<priority>'
  Reply: { server now ms, next delayed due ms (-1 none, -2 not checked), idle wake-up ms (-1 none, -2 not idle),
    leased jobs flat { member, id, data, options|false, attempts made|false, created|false, progress|false, priority|false } * k,
    outcome statuses { 1 settled, 0 lease lost, 2 already settled by this token }, recovered count, dead-lettered ids of recovered jobs,
    schedules to advance flat { schedule id, version, definition JSON, last occurrence id } * s,
    ids whose hash was missing (dead-lettered with E_JOB_LOST) }
]]
--- @include "server-time"
--- @include "priority-score"
--- @include "schedule-advance"
--- @include "check-types"
local ready, prio, delayed, active, completed, dead, wake, meta, limiter, pseq, dprio =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local sched, defs, schedNext, advance, callPrefix, jobPrefix = KEYS[12], KEYS[13], KEYS[14], KEYS[15], KEYS[16], KEYS[17]
local leaseMs = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local tokenPrefix = ARGV[3]
local keep = tonumber(ARGV[9])
local trimNow = ARGV[10] ~= '0' and ARGV[10] ~= ''
local completedAge, deadKeep, deadAge = -1, -1, -1
do
  local a, b, c = string.match(ARGV[10], '^(%-?%d+):(%-?%d+):(%-?%d+)$')
  if a then completedAge, deadKeep, deadAge = tonumber(a), tonumber(b), tonumber(c) end
end
local now = server_time_ms()
-- A stale advance (its worker died or failed to add) is taken over after this long.
local ADVANCE_GRACE_MS = 2000

-- Every key the sections below may touch, checked before the first write (see check-types): a
-- refused call writes nothing, and the worker sends it again until the garbage is gone.
do
  local checks = { active, 'zset' }
  local function need(...)
    local list = { ... }
    for i = 1, #list do checks[#checks + 1] = list[i] end
  end
  local m = tonumber(ARGV[12])
  if m > 0 then
    -- (The jobs' own hashes are written with pcall in section 1: one TYPE per job saved.)
    need(completed, 'zset', dead, 'zset', delayed, 'zset', dprio, 'hash', prio, 'zset', pseq, 'counter', ready, 'list')
  end
  if ARGV[4] == '1' then need(delayed, 'zset', dprio, 'hash', prio, 'zset', pseq, 'counter', ready, 'list') end
  if ARGV[5] == '1' or wanted > 0 then
    need(dead, 'zset', prio, 'zset', pseq, 'counter', ready, 'list', advance, 'zset', sched, 'hash', defs, 'hash', schedNext, 'hash')
  end
  if wanted > 0 then
    need(meta, 'hash', wake, 'list', delayed, 'zset')
    if tonumber(ARGV[7]) > 0 then need(limiter, 'counter') end
  end
  if trimNow then need(completed, 'zset', dead, 'zset') end
  local refused = check_types(checks)
  if refused then return refused end
end

-- 0. A call sent again after its reply was lost: the first run's leases are this worker's (same
-- tokens, renewed now) and its outcomes are settled; answer as the first run did.
local callKey = callPrefix .. string.sub(tokenPrefix, 1, (string.find(tokenPrefix, '.', 1, true) or 1) - 1)
local logged = redis.call('GET', callKey)
if logged then
  local ok, log = pcall(cjson.decode, logged)
  if ok and type(log) == 'table' and log.p == tokenPrefix then
    local leased = {}
    local deadline = now + leaseMs
    for _, member in ipairs(log.l or {}) do
      if redis.call('ZADD', active, 'XX', 'CH', deadline, member) == 1 or redis.call('ZSCORE', active, member) then
        local id = string.sub(member, string.find(member, ':', 1, true) + 1)
        local f = redis.call('HMGET', jobPrefix .. id, 'd', 'o', 'a', 't', 'g', 'p')
        if f[1] then
          leased[#leased + 1] = member
          leased[#leased + 1] = id
          for j = 1, 6 do leased[#leased + 1] = f[j] end
        end
      end
    end
    return { now, -2, -2, leased, log.s or {}, 0, {}, {}, {} }
  end
end

local function pushReady(ids, front)
  if #ids == 0 then return end
  if front then
    -- LPUSH reverses its arguments: push the last first so the list keeps their order.
    local reversed = {}
    for i = #ids, 1, -1 do reversed[#reversed + 1] = ids[i] end
    redis.call('LPUSH', ready, unpack(reversed))
  else
    redis.call('RPUSH', ready, unpack(ids))
  end
end

local function prioritize(id, priority)
  add_prioritized(prio, pseq, id, priority)
end

-- 1. Outcomes of finished jobs. A lease that is gone (expired and recovered, or released) means
-- another delivery owns the job now: this late result is rejected and nothing is written. A job
-- whose hash was overwritten with another type since its lease (planted data) is lost: its
-- outcome goes to the dead letters, the garbage is left as it is (pcall: nothing half-written).
local function stored(...)
  return type(redis.pcall(...)) ~= 'table'
end
local m = tonumber(ARGV[12])
local statuses = {}
local doneIds, doneArgs, deadArgs, retryLater = {}, {}, {}, {}
for i = 0, m - 1 do
  local b = 13 + i * 7
  local member, kind = ARGV[b], ARGV[b + 1]
  local sep = string.find(member, ':', 1, true)
  local token, id = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  local key = jobPrefix .. id
  if redis.call('ZREM', active, member) == 0 then
    statuses[#statuses + 1] = (redis.pcall('HGET', key, 'k') == token) and 2 or 0
  else
    statuses[#statuses + 1] = 1
    if kind == 'c' then
      if keep == 0 then
        doneIds[#doneIds + 1] = key
      elseif stored('HSET', key, 'r', ARGV[b + 2], 's', ARGV[b + 4], 'f', now, 'k', token, 'w', '0') then
        doneArgs[#doneArgs + 1] = now
        doneArgs[#doneArgs + 1] = id
      else
        deadArgs[#deadArgs + 1] = now
        deadArgs[#deadArgs + 1] = id
      end
    elseif not stored('HSET', key, 'a', ARGV[b + 5], 'e', ARGV[b + 2], 'x', ARGV[b + 3], 's', ARGV[b + 4], 'k', token, 'w', '0') then
      deadArgs[#deadArgs + 1] = now
      deadArgs[#deadArgs + 1] = id
    elseif kind == 'r' then
      local spec = ARGV[b + 6]
      local c = string.find(spec, ':', 1, true)
      local delay, priority = tonumber(string.sub(spec, 1, c - 1)), tonumber(string.sub(spec, c + 1))
      if delay > 0 then
        redis.call('ZADD', delayed, now + delay, id)
        if priority > 0 then redis.call('HSET', dprio, id, priority) end
      elseif priority > 0 then
        prioritize(id, priority)
      else
        retryLater[#retryLater + 1] = id
      end
    else
      stored('HSET', key, 'f', now)
      deadArgs[#deadArgs + 1] = now
      deadArgs[#deadArgs + 1] = id
    end
  end
end
if #doneIds > 0 then redis.call('DEL', unpack(doneIds)) end
if #doneArgs > 0 then redis.call('ZADD', completed, unpack(doneArgs)) end
if #deadArgs > 0 then redis.call('ZADD', dead, unpack(deadArgs)) end
pushReady(retryLater, false)

-- 2. Due delayed jobs become ready (in due order).
local nextDelayed = -2
local promoted = 0
if ARGV[4] == '1' then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
  promoted = #due
  if promoted > 0 then
    redis.call('ZREMRANGEBYRANK', delayed, 0, promoted - 1)
    local priorities = redis.call('HMGET', dprio, unpack(due))
    local plain, withPriority = {}, {}
    for i, id in ipairs(due) do
      local priority = tonumber(priorities[i] or '')
      if priorities[i] then withPriority[#withPriority + 1] = id end
      if priority and priority > 0 then
        prioritize(id, priority)
      else
        plain[#plain + 1] = id
      end
    end
    if #withPriority > 0 then redis.call('HDEL', dprio, unpack(withPriority)) end
    pushReady(plain, false)
  end
  local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  nextDelayed = head[2] and tonumber(head[2]) or -1
end

-- 3. Jobs whose lease expired go back to the front of the queue. A stall is not a failed attempt
-- (the handler may never have run, e.g. a lost reply): it is counted apart, in field 'l', and a job
-- that stalls more often than allowed (one that kills its worker every time) is dead-lettered.
local recovered = 0
local recoveredDead = {}
local advances = {}
if ARGV[5] == '1' then
  local expired = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, 1000)
  if #expired > 0 then
    redis.call('ZREMRANGEBYRANK', active, 0, #expired - 1)
    local front = {}
    local maxStalls = tonumber(ARGV[11])
    for _, member in ipairs(expired) do
      local id = string.sub(member, string.find(member, ':', 1, true) + 1)
      local key = jobPrefix .. id
      local kind = redis.call('TYPE', key).ok
      if kind ~= 'hash' and kind ~= 'none' then
        -- Its record was overwritten with something else behind redkit's back: nothing is left to
        -- run; the loss is recorded in the dead letters (the garbage is left as it is).
        redis.call('ZADD', dead, now, id)
        recoveredDead[#recoveredDead + 1] = id
      elseif kind == 'hash' then
        recovered = recovered + 1
        local stalls = redis.call('HINCRBY', key, 'l', 1)
        if stalls > maxStalls then
          redis.call('HSET', key, 'f', now, 'e', 'E_JOB_LOST the lease expired ' .. stalls .. ' times (the worker died, stalled or lost its connection)', 'x', '{"code":"E_JOB_LOST"}', 'w', '0')
          redis.call('ZADD', dead, now, id)
          recoveredDead[#recoveredDead + 1] = id
        else
          redis.call('HSET', key, 'e', 'E_JOB_LOST the lease expired (the worker died, stalled or lost its connection)', 'x', '{"code":"E_JOB_LOST"}', 'w', '0')
          local priority = tonumber(redis.call('HGET', key, 'p') or '0') or 0
          if priority > 0 then prioritize(id, priority) else front[#front + 1] = id end
        end
      end
    end
    pushReady(front, true)
  end
  -- Schedules whose advance nobody completed (the worker died, or its add failed): take them over.
  local stale = redis.call('ZRANGEBYSCORE', advance, '-inf', now - ADVANCE_GRACE_MS, 'LIMIT', 0, 20)
  for _, sid in ipairs(stale) do
    redis.call('ZADD', advance, now, sid)
    push_advance(advances, sched, defs, schedNext, sid)
  end
end

-- 4. Lease up to N jobs: plain jobs first (FIFO), then prioritized ones (lowest score first).
local leased = {}
local leasedMembers = {}
local missing = {}
local idle = -2
local limited = false
local trimmedBy = -1
if wanted > 0 then
  if redis.call('HGET', meta, 'paused') == '1' then
    wanted = 0
    idle = -1
  end
  local limitMax = tonumber(ARGV[7])
  local used = 0
  if wanted > 0 and limitMax > 0 then
    used = tonumber(redis.call('GET', limiter) or '0')
    if used >= limitMax then
      local ttl = redis.call('PTTL', limiter)
      if ttl < 0 then
        redis.call('DEL', limiter)
        used = 0
      else
        wanted = 0
        limited = true
        idle = now + ttl
      end
    end
    if wanted > limitMax - used then
      wanted = limitMax - used
      trimmedBy = limitMax
    end
  end
  local ids = {}
  if wanted > 0 then
    local popped = redis.call('LPOP', ready, wanted)
    if popped then ids = popped end
    if #ids < wanted then
      local more = redis.call('ZPOPMIN', prio, wanted - #ids)
      for i = 1, #more, 2 do ids[#ids + 1] = more[i] end
    end
  end
  if #ids > 0 then
    local deadline = now + leaseMs
    local zargs = {}
    local taken = 0
    for i, id in ipairs(ids) do
      local key = jobPrefix .. id
      local f = redis.pcall('HMGET', key, 'd', 'o', 'a', 't', 'g', 'p')
      if f.err then
        -- Its record was overwritten with something else: recorded as lost, the garbage left as it is.
        redis.call('ZADD', dead, now, id)
        missing[#missing + 1] = id
        mark_advance(schedNext, advance, id, 0)
      elseif f[1] then
        -- The job's state is in its hash ('w' 1 while leased), so getJob never scans the ready list.
        redis.call('HSET', key, 'w', '1')
        taken = taken + 1
        local member = tokenPrefix .. i .. ':' .. id
        zargs[#zargs + 1] = deadline
        zargs[#zargs + 1] = member
        leasedMembers[#leasedMembers + 1] = member
        leased[#leased + 1] = member
        leased[#leased + 1] = id
        for j = 1, 6 do leased[#leased + 1] = f[j] end
        local sid = mark_advance(schedNext, advance, id, now)
        if sid then push_advance(advances, sched, defs, schedNext, sid) end
      else
        -- Its record was deleted behind redkit's back (eviction, a stray DEL): nothing is left to
        -- run, but the loss is recorded where dead letters are looked for, never dropped silently.
        redis.call('HSET', key, 'f', now, 'e', 'E_JOB_LOST the job record was missing when it was leased (evicted or deleted)', 'x', '{"code":"E_JOB_LOST"}')
        redis.call('ZADD', dead, now, id)
        missing[#missing + 1] = id
        mark_advance(schedNext, advance, id, 0)
      end
    end
    if taken > 0 and limitMax > 0 then
      if redis.call('INCRBY', limiter, taken) == taken then redis.call('PEXPIRE', limiter, tonumber(ARGV[8])) end
    end
    if #zargs > 0 then redis.call('ZADD', active, unpack(zargs)) end
  end
  if #ids < wanted or (idle == -1 and not limited) then
    -- Nothing more is ready: markers are stale. Tell the worker when to look again.
    redis.call('DEL', wake)
    local soonest = -1
    if nextDelayed == -2 then
      local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
      nextDelayed = head[2] and tonumber(head[2]) or -1
    end
    if nextDelayed >= 0 then soonest = nextDelayed end
    local lease = redis.call('ZRANGE', active, 0, 0, 'WITHSCORES')
    if lease[2] and (soonest < 0 or tonumber(lease[2]) < soonest) then soonest = tonumber(lease[2]) end
    if idle == -1 then soonest = -1 end
    idle = soonest
  elseif trimmedBy > 0 then
    -- The rate limit cut this batch short: the worker has free slots and must look again when the
    -- window opens (no marker will tell it).
    local ttl = redis.call('PTTL', limiter)
    idle = ttl > 0 and (now + ttl) or now
  elseif (ARGV[6] == '1' or promoted > 0 or recovered > 0) and not limited then
    -- Jobs remain and other workers may be idle: pass the wake-up on.
    if redis.call('LLEN', ready) > 0 or redis.call('ZCARD', prio) > 0 then redis.call('RPUSH', wake, '1') end
  end
end

-- 5. Retention of completed jobs and dead letters, amortised: the worker asks for it now and then.
-- Oldest first (scores are finish times): those past the age bound, then those past the count.
local function trim_finished(set, count, ageMs)
  local budget = 1000
  local function drop(ids)
    if #ids == 0 then return end
    local keys = {}
    for i, id in ipairs(ids) do keys[i] = jobPrefix .. id end
    redis.call('DEL', unpack(keys))
    redis.call('ZREM', set, unpack(ids))
    budget = budget - #ids
  end
  if ageMs >= 0 then
    drop(redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. string.format('%d', now - ageMs), 'LIMIT', 0, budget))
  end
  if count >= 0 and budget > 0 then
    local excess = math.min(redis.call('ZCARD', set) - count, budget)
    if excess > 0 then drop(redis.call('ZRANGE', set, 0, excess - 1)) end
  end
end
if trimNow then
  if keep > 0 or completedAge >= 0 then trim_finished(completed, keep > 0 and keep or -1, completedAge) end
  if deadKeep >= 0 or deadAge >= 0 then trim_finished(dead, deadKeep, deadAge) end
end

-- 6. What this call did, for a resend of it (same token prefix) whose first reply was lost.
if m > 0 or #leasedMembers > 0 then
  redis.call('SET', callKey, cjson.encode({ p = tokenPrefix, s = statuses, l = leasedMembers }), 'PX', leaseMs * 2)
end

return { now, nextDelayed, idle, leased, statuses, recovered, recoveredDead, advances, missing }
