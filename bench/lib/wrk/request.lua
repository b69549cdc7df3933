-- The request of a workload, from the environment the bench sets (bench/lib/loadgen.js):
-- BENCH_METHOD, BENCH_BODY_BYTES (a body of that many bytes; wrk adds Content-Length) and
-- BENCH_CONNECTION_CLOSE=1 (a new connection per request: wrk reconnects after each answer).
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local n = tonumber(os.getenv("BENCH_BODY_BYTES") or "0")
if n > 0 then
  wrk.body = string.rep("x", n)
  wrk.headers["Content-Type"] = "application/octet-stream"
end
if os.getenv("BENCH_CONNECTION_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end
