//! The Redis store's server-side scripts: every read-modify-write is one of these, atomic and one
//! round trip. `PICK` chooses a request's key with everything the pool knows — disables,
//! cooldowns, ejections and probes, the model-wide overload, and each quota group's sliding
//! minute and day against its limits — and counts the send; `UNSEND` takes a refused send back;
//! `WRITE` records facts.

use std::sync::LazyLock;

use ::redis::Script;

/// KEYS: 1 disabled, 2 cooldowns, 3 `rr:MODEL`, 4 stats, 5 limits, 6 ejections, 7 overloads,
/// then per group g (1-based): `7 + 2g - 1` its window (a sorted set of sends, member
/// `ms:tokens:id:seq`), `7 + 2g` its day (`ends`, `count`).
/// ARGV: 1 model, 2 now, 3 preferred id, 4 tokens, 5 slack, 6 the next daily reset, 7 the number
/// of groups; per group 4: name, declared rpm, tpm, rpd (`''` when not declared); then the
/// candidates, 2 each: id and group number, in the caller's order.
/// Returns `{id, probe}` (probe 1 when the pick is a half-open probe), or `{false, earliest}`:
/// when some candidate could serve next (`false` when none will by itself).
pub static PICK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local model, now, preferred = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local tokens, slack, day_ends = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ngroups = tonumber(ARGV[7])
local function interval(times)
  local d = 5000 * 2 ^ math.min(math.max(times - 1, 0), 16)
  if d > 300000 then d = 300000 end
  return d
end
-- 'times|until|probing' -> 'open' | 'probe' | 'out', and until when
local function admission(rec)
  if not rec then return 'open', now end
  local t, u, p = string.match(rec, '^(%d+)|(%-?%d+)|(%d)$')
  t, u = tonumber(t), tonumber(u)
  if not t or t == 0 then return 'open', now end
  if now < u then return 'out', u end
  if p == '1' then return 'out', u + interval(t) end
  return 'probe', now
end
local ov_rec = redis.call('HGET', KEYS[7], model)
local ov_state, ov_until = admission(ov_rec)
if ov_state == 'out' then return {false, ov_until} end
local groups = {}
for g = 1, ngroups do
  local a = 7 + (g - 1) * 4
  groups[g] = {name = ARGV[a + 1], rpm = tonumber(ARGV[a + 2]), tpm = tonumber(ARGV[a + 3]),
               rpd = tonumber(ARGV[a + 4]), win = KEYS[7 + 2 * g - 1], day = KEYS[7 + 2 * g]}
end
-- when group g may send a request of `tokens`
local function free_at(g)
  local grp = groups[g]
  if grp.free ~= nil then return grp.free end
  local f = grp.name .. '|' .. model .. '|'
  local learned = redis.call('HMGET', KEYS[5], f .. 'rpm', f .. 'tpm', f .. 'rpd')
  local rpm = grp.rpm or tonumber(learned[1] or '')
  local tpm = grp.tpm or tonumber(learned[2] or '')
  local rpd = grp.rpd or tonumber(learned[3] or '')
  local free = now
  if rpm or tpm then
    redis.call('ZREMRANGEBYSCORE', grp.win, '-inf', now - 60000 - slack)
  end
  if rpm and rpm > 0 then
    local n = redis.call('ZCARD', grp.win)
    if n >= rpm then
      local oldest = redis.call('ZRANGE', grp.win, n - rpm, n - rpm, 'WITHSCORES')
      local t = tonumber(oldest[2]) + 60000 + slack
      if t > free then free = t end
    end
  end
  if tpm and tpm > 0 then
    local all = redis.call('ZRANGE', grp.win, 0, -1, 'WITHSCORES')
    local used, list = 0, {}
    for i = 1, #all, 2 do
      local tk = tonumber(string.match(all[i], '^[^:]*:(%d+):')) or 0
      used = used + tk
      list[#list + 1] = {tonumber(all[i + 1]), tk}
    end
    if used + tokens > tpm then
      local freed, t = 0, now + 60000 + slack
      for _, e in ipairs(list) do
        freed = freed + e[2]
        if used - freed + tokens <= tpm then t = e[1] + 60000 + slack; break end
      end
      if t > free then free = t end
    end
  end
  if rpd and rpd > 0 then
    local d = redis.call('HMGET', grp.day, 'ends', 'count')
    local ends, count = tonumber(d[1] or ''), tonumber(d[2] or '')
    if ends and ends > now and count and count >= rpd and ends > free then free = ends end
  end
  grp.free = free
  return free
end
local ids, gs, fields = {}, {}, {}
for i = 8 + ngroups * 4, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  gs[#gs + 1] = tonumber(ARGV[i + 1])
  fields[#fields + 1] = ARGV[i] .. '|' .. model
end
if #ids == 0 then return {false, false} end
local disabled = redis.call('HMGET', KEYS[1], unpack(ids))
local deadlines = redis.call('HMGET', KEYS[2], unpack(fields))
local ejections = redis.call('HMGET', KEYS[6], unpack(fields))
local usable, chosen, earliest = {}, nil, nil
for i = 1, #ids do
  local until_ms = tonumber(deadlines[i] or '')
  if not disabled[i] then
    local ready = now
    if until_ms and until_ms > ready then ready = until_ms end
    local state, eu = admission(ejections[i])
    if state == 'out' and eu > ready then ready = eu end
    if ready <= now then
      local f = free_at(gs[i])
      if f > ready then ready = f end
    end
    if ready <= now then
      usable[#usable + 1] = i
      if ids[i] == preferred then chosen = i end
    elseif earliest == nil or ready < earliest then
      earliest = ready
    end
  end
  if until_ms ~= nil and until_ms <= now - 60000 then
    redis.call('HDEL', KEYS[2], fields[i])
  end
end
if #usable == 0 then return {false, earliest or false} end
if chosen == nil then
  local n = redis.call('INCR', KEYS[3])
  chosen = usable[((n - 1) % #usable) + 1]
end
local id, grp = ids[chosen], groups[gs[chosen]]
local probe = 0
if admission(ejections[chosen]) == 'probe' then
  local t, u = string.match(ejections[chosen], '^(%d+)|(%-?%d+)|')
  redis.call('HSET', KEYS[6], fields[chosen], t .. '|' .. u .. '|1')
  probe = 1
end
if ov_state == 'probe' then
  local t, u = string.match(ov_rec, '^(%d+)|(%-?%d+)|')
  redis.call('HSET', KEYS[7], model, t .. '|' .. u .. '|1')
  probe = 1
end
local seq = redis.call('HINCRBY', KEYS[4], id .. ':requests', 1)
redis.call('ZADD', grp.win, now, now .. ':' .. tokens .. ':' .. id .. ':' .. seq)
redis.call('PEXPIRE', grp.win, 120000)
local day = redis.call('HGET', grp.day, 'ends')
if tonumber(day or '') ~= day_ends then
  redis.call('HSET', grp.day, 'ends', day_ends, 'count', 1)
else
  redis.call('HINCRBY', grp.day, 'count', 1)
end
redis.call('PEXPIREAT', grp.day, day_ends + 3600000)
return {id, probe}
",
    )
});

/// Takes back the newest send of key ARGV[1] from window KEYS[1] and its day KEYS[2] (Google
/// refused it, so it used no quota).
pub static UNSEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local mine = ':' .. ARGV[1] .. ':'
for _, m in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  if string.find(m, mine, 1, true) then
    redis.call('ZREM', KEYS[1], m)
    if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[2], 'count', -1) end
    return 1
  end
end
return 0
",
    )
});

/// Applies a list of facts, four ARGV per fact: op, id, a, b. KEYS: 1 disabled, 2 cooldowns,
/// 3 stats, 4 groups, 5 limits, 6 ejections, 7 overloads.
pub static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 1, #ARGV, 4 do
  local op, id, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if op == 'cool' then
    local field = id .. '|' .. a
    local current = redis.call('HGET', KEYS[2], field)
    if not current or tonumber(b) > tonumber(current) then
      redis.call('HSET', KEYS[2], field, b)
    end
  elseif op == 'disable' then
    redis.call('HSETNX', KEYS[1], id, a .. '|' .. b)
  elseif op == 'enable' then
    redis.call('HDEL', KEYS[1], id)
  elseif op == 'clear' then
    redis.call('HDEL', KEYS[2], id .. '|' .. a)
  elseif op == 'clear_all' then
    local mine = id .. '|'
    for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
      if string.sub(field, 1, #mine) == mine then redis.call('HDEL', KEYS[2], field) end
    end
  elseif op == 'fail' then
    redis.call('HINCRBY', KEYS[3], id .. ':failures', 1)
    redis.call('HSET', KEYS[3], id .. ':last_error', a)
  elseif op == 'group' then
    redis.call('HSET', KEYS[4], id, a)
  elseif op == 'limit' then
    redis.call('HSET', KEYS[5], a, b)
  elseif op == 'forget_limit' then
    redis.call('HDEL', KEYS[5], a)
  elseif op == 'eject' then
    redis.call('HSET', KEYS[6], id .. '|' .. a, b .. '|0')
  elseif op == 'heal' then
    redis.call('HDEL', KEYS[6], id .. '|' .. a)
  elseif op == 'overload' then
    redis.call('HSET', KEYS[7], a, b .. '|0')
  elseif op == 'overload_clear' then
    redis.call('HDEL', KEYS[7], a)
  end
end
return 1
",
    )
});
