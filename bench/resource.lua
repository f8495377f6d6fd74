-- wrk script for bench/resource-load.sh: replays pre-signed DPoP resource requests written by
-- `cargo run --release -p gateway --example resource_requests`, one line per request
-- ("<path>\t<access token>\t<DPoP proof>"), each thread taking every n-th line so no proof jti is sent twice.
-- Size the file above the expected request count (a thread that runs out repeats its last line: refused as a replay).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local file = os.getenv("RESOURCE_REQUESTS")
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  lines = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id - 1 then
      local a = line:find("\t", 1, true)
      local b = line:find("\t", a + 1, true)
      table.insert(lines, { line:sub(1, a - 1), line:sub(a + 1, b - 1), line:sub(b + 1) })
    end
    i = i + 1
  end
  next_line = 1
end

function request()
  local entry = lines[next_line]
  if next_line < #lines then next_line = next_line + 1 end
  return wrk.format("GET", entry[1], { ["Authorization"] = "DPoP " .. entry[2], ["DPoP"] = entry[3] })
end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %.3f, \"non2xx\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
