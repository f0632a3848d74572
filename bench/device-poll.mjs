// Device sign-in benchmark (prints numbers; asserts nothing): N devices (default 1,000) start a
// device sign-in and poll /oauth/token every 5 s, as RFC 8628 asks. Prints the database's
// transactions per poll while they wait, and approve → that device's tokens for a sample of
// devices (bounded below by the polling: a device learns of the approval at its next poll).
import http from "node:http";
import { execFileSync } from "node:child_process";

const BASE = new URL(process.env.BASE ?? "http://127.0.0.1:3200");
const DATABASE_URL = process.env.DATABASE_URL;
const CLIENT_ID = process.env.CLIENT_ID;
const COUNT = Number(process.env.DEVICES ?? 1000);
const SAMPLES = Number(process.env.SAMPLES ?? 100);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const GRANT = "urn:ietf:params:oauth:grant-type:device_code";

function request(path, body, type, token) {
  const payload = type === "json" ? JSON.stringify(body) : new URLSearchParams(body).toString();
  const headers = {
    "content-type": type === "json" ? "application/json" : "application/x-www-form-urlencoded",
    "content-length": Buffer.byteLength(payload),
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: BASE.hostname, port: BASE.port, path, method: "POST", headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString() || "{}") }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

const commits = () =>
  Number(execFileSync("psql", [DATABASE_URL, "-tAc", "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"]).toString());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const phone = (await request("/api/register", { username: `tv_bench_${Date.now()}`, password: "bench password" }, "json")).body;
const devices = [];
for (let i = 0; i < COUNT; i += 100) {
  const batch = await Promise.all(
    [...Array(Math.min(100, COUNT - i))].map(() => request("/oauth/device_authorization", { client_id: CLIENT_ID, scope: "openid" }, "form")),
  );
  devices.push(...batch.map((r) => r.body));
}
console.log(`${devices.length} devices started`);

let polls = 0;
let slowDowns = 0;
let running = true;
const approvedAt = new Map();
const latencies = [];
const device = async (codes, offset) => {
  await sleep(offset);
  let interval = codes.interval * 1000;
  while (running) {
    const answer = await request("/oauth/token", { grant_type: GRANT, device_code: codes.device_code, client_id: CLIENT_ID }, "form");
    polls += 1;
    if (answer.status === 200) {
      latencies.push(performance.now() - approvedAt.get(codes.user_code));
      return;
    }
    if (answer.body.error === "slow_down") {
      slowDowns += 1;
      interval += 5000;
    } else if (answer.body.error !== "authorization_pending") return;
    await sleep(interval);
  }
};
// Spread the first polls over one interval, as devices started at different moments would.
const waiters = devices.map((codes, i) => device(codes, (i / devices.length) * 5000));
await sleep(12_000);
const c0 = commits();
const p0 = polls;
const t0 = performance.now();
await sleep(30_000);
const seconds = (performance.now() - t0) / 1000;
const transactions = commits() - c0;
const pollCount = polls - p0;

for (const codes of devices.slice(0, SAMPLES)) {
  approvedAt.set(codes.user_code, performance.now());
  await request("/api/device/approve", { user_code: codes.user_code }, "json", phone.access_token);
  await sleep(20);
}
while (latencies.length < SAMPLES) await sleep(100);
running = false;
latencies.sort((a, b) => a - b);

console.log(`\nDevice sign-in: ${COUNT} devices polling every 5 s`);
console.log(`polls per second while waiting          ${(pollCount / seconds).toFixed(1)}`);
console.log(`DB transactions per second              ${(transactions / seconds).toFixed(1)}`);
console.log(`DB transactions per poll                ${(transactions / pollCount).toFixed(2)}`);
console.log(`slow_down answers (should be 0)         ${slowDowns}`);
console.log(`approve → device has its tokens, ${SAMPLES} samples: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms (the device learns at its next poll: 0–5 s by design)`);
process.exit(0);
