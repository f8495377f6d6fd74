-- wrk script for bench/gateway-load.sh: a fixed request from the environment (METHOD, BODY, AUTH, CTYPE), and the
-- same JSON summary line as bench/token.lua.
wrk.method = os.getenv("METHOD") or "GET"
wrk.body = os.getenv("BODY")
if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end
if os.getenv("CTYPE") then wrk.headers["Content-Type"] = os.getenv("CTYPE") end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %.3f, \"non2xx\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
