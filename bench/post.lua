-- POST a fixed body: BENCH_BODY and BENCH_CT from the environment.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = os.getenv("BENCH_CT")
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["API-TOKEN"] = token end
