-- wrk script for bench/run.py: cycle through a file of request paths and count bad answers.
-- usage: wrk ... -s cycle.lua URL -- URLFILE EXPECTED_CONTENT_TYPE
local paths, i, expect = {}, 0, ""
bad = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  expect = args[2] or ""
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function response(status, headers, body)
  local ct = headers["Content-Type"] or headers["content-type"] or ""
  if status ~= 200 or string.find(ct, expect, 1, true) ~= 1 or #body < 64 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests":%d,"seconds":%.3f,"p50_ms":%.2f,"p99_ms":%.2f,"errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
