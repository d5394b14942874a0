-- wrk script of crates/imi-bench/serve_load.sh, scenario (c): claim/release cycles.
-- A claim goes to a random worktree of feat-w1..feat-wN (N = $CLAIM_WORKTREES) as
-- one of 64 agents (X-Imi-Agent bench-1..bench-64); a granted claim is released
-- next, by the agent that got it. wrk's Lua has no per-connection hook, so the
-- agent goes with the claim, not with the connection. Two agents after one
-- worktree: the second gets 409 CONFLICT (expected). Statuses are counted per
-- class in each thread and summed in done().
local n = tonumber(os.getenv("CLAIM_WORKTREES") or "64")
local base = "/api/v1/projects/" .. (os.getenv("IMI_PROJECT") or "app") .. "/worktrees/"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
  owed = {} -- releases owed: {worktree, agent}
  claimed, released, renewed, conflict, other4xx, s5xx, other = 0, 0, 0, 0, 0, 0, 0
end

local function post(path, agent)
  return wrk.format("POST", path, {
    ["X-Imi-Agent"] = agent,
    ["Content-Type"] = "application/json",
  }, "{}")
end

function request()
  local o = table.remove(owed)
  if o then
    return post(base .. o[1] .. "/release", o[2])
  end
  return post(base .. "feat-w" .. math.random(n) .. "/claim", "bench-" .. math.random(64))
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    if body:find('"held":true', 1, true) then
      if body:find('"renewed":true', 1, true) then
        renewed = renewed + 1 -- its release is owed already
      else
        claimed = claimed + 1
        local w = body:match('"worktree_name":"([^"]*)"')
        local a = body:match('"agent_id":"([^"]*)"')
        table.insert(owed, { w, a })
      end
    else
      released = released + 1
    end
  elseif status == 409 then
    conflict = conflict + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  elseif status >= 400 then
    other4xx = other4xx + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = { claimed = 0, renewed = 0, released = 0, conflict = 0, other4xx = 0, s5xx = 0, other = 0 }
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + (th:get(k) or 0)
    end
  end
  io.write(string.format(
    "STATUS 2xx=%d (claims %d, renewals %d, releases %d) 409=%d other4xx=%d 5xx=%d other=%d\n",
    t.claimed + t.renewed + t.released, t.claimed, t.renewed, t.released,
    t.conflict, t.other4xx, t.s5xx, t.other))
end
