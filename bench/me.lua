-- wrk: POST /api/me with a Bearer token, cycling through the seeded users' tokens.
local tokens = { TOKENS }
local n = 0
wrk.method = "POST"
request = function()
  n = n + 1
  return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] }, "")
end
