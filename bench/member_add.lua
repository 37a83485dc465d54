-- Adds a different spare user to the big group on every request.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local counter = 0
local threads = 0
setup = function(thread)
  thread:set("offset", threads * 1000000)
  threads = threads + 1
end
init = function(args)
  counter = 0
end
request = function()
  counter = counter + 1
  local n = tonumber(os.getenv("BENCH_FIRST_SPARE")) + offset / 1000000 * tonumber(os.getenv("BENCH_SPARE_PER_THREAD")) + counter
  local body = '{"user":"benchuser' .. n .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = os.getenv("BENCH_AUTH")}, body)
end
