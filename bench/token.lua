-- wrk script for bench/gateway-load.sh: replays pre-signed client_credentials requests written by
-- `cargo run --release -p gateway --example token_requests`, one line per request ("<form body>\t<DPoP proof>"),
-- each thread taking every n-th line so no assertion or proof jti is sent twice. When a thread runs out of lines it
-- stops sending fresh requests (wrk then repeats the last, which the gateway refuses as a replay: counted as errors,
-- so size the file above the expected request count).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local file = os.getenv("TOKEN_REQUESTS")
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  lines = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id - 1 then
      local tab = line:find("\t", 1, true)
      table.insert(lines, { line:sub(1, tab - 1), line:sub(tab + 1) })
    end
    i = i + 1
  end
  next_line = 1
end

function request()
  local entry = lines[next_line]
  if next_line < #lines then next_line = next_line + 1 end
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  -- An empty proof field: a bearer-token client (token_requests ... bearer).
  if entry[2] ~= "" then headers["DPoP"] = entry[2] end
  return wrk.format("POST", nil, headers, entry[1])
end

function done(summary, latency, requests)
  local non200 = summary.errors.status
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %.3f, \"non2xx\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    summary.requests, summary.duration / 1e6, non200, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
