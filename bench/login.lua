-- wrk: POST /api/login with the seeded users' passwords, cycling through the users.
local n = 0
request = function()
  n = n + 1
  local i = (n % 32) + 1
  local body = string.format('{"username":"bench_user_%d","password":"bench password %d"}', i, i)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
