// QR long-poll benchmark (prints numbers; asserts nothing). For each N: N desktops create a code,
// a signed-in phone scans them all, every desktop long-polls its code (re-polling when a poll
// times out, as the page does), then the phone approves a sample of codes one by one and we time
// approve-sent → that desktop's poll returning its tokens. Also prints the server's RSS and the
// database's transactions per second while the N desktops wait.
import http from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const BASE = new URL(process.env.BASE ?? "http://127.0.0.1:3200");
const SERVER_PID = process.env.SERVER_PID;
const DATABASE_URL = process.env.DATABASE_URL;
const COUNTS = (process.env.COUNTS ?? "1000,10000").split(",").map(Number);
const SAMPLES = Number(process.env.SAMPLES ?? 200);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function post(path, body = {}, token) {
  const payload = JSON.stringify(body);
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(payload) };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: BASE.hostname, port: BASE.port, path, method: "POST", headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) reject(new Error(`${path} ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function inBatches(items, size, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${SERVER_PID}/status`, "utf8"))[1]) / 1024;
const commits = () =>
  Number(execFileSync("psql", [DATABASE_URL, "-tAc", "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"]).toString());
/** With pg_stat_statements loaded (scripts/bench-qr loads it): the statements run from now on. */
function statementsSince() {
  const psql = (sql) => execFileSync("psql", [DATABASE_URL, "-tAc", sql]).toString().trim();
  try {
    psql("SELECT pg_stat_statements_reset()");
  } catch {
    return () => "  (pg_stat_statements is not loaded)";
  }
  return () =>
    psql(`SELECT calls, regexp_replace(left(query, 90), '\\s+', ' ', 'g') FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY calls DESC LIMIT 8`)
      .split("\n")
      .map((line) => `  ${line.replace("|", "  ")}`)
      .join("\n");
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const phone = await post("/api/register", { username: `qr_bench_${Date.now()}`, password: "bench password" });
const results = [];
for (const count of COUNTS) {
  const codes = await inBatches([...Array(count).keys()], 200, () => post("/api/qr/create"));
  await inBatches(codes, 200, (code) => post("/api/qr/scan", { id: code.id }, phone.access_token));
  console.log(`${count} codes created and scanned`);
  const idleRss = rssMiB();

  // Every desktop waits; a poll that times out is simply sent again, like the page does.
  const approvedAt = new Map();
  let latencies = [];
  let errors = 0;
  let running = true;
  const wait = async (code) => {
    while (running) {
      let answer;
      try {
        answer = await post("/api/qr/poll", { id: code.id, secret: code.secret, seen: "scanned" });
      } catch (error) {
        errors += 1;
        continue;
      }
      if (answer.state === "approved") {
        const sent = approvedAt.get(code.id);
        if (sent !== undefined) latencies.push(performance.now() - sent);
        return;
      }
      if (answer.state !== "scanned") return;
    }
  };
  // Open the connections gradually, as real desktops would arrive, not as one SYN flood.
  const waiters = [];
  for (let i = 0; i < codes.length; i += 250) {
    waiters.push(...codes.slice(i, i + 250).map(wait));
    await sleep(50);
  }
  console.log(`${count} desktops waiting`);
  await sleep(3000); // let every poll settle into waiting
  const waitingRss = rssMiB();
  // PostgreSQL publishes a backend's counters up to 10 s late, so both readings come after quiet
  // spells of the same kind, and the window (30 s) spans one full 25 s poll cycle.
  await sleep(11_000);
  const statements = statementsSince();
  const c0 = commits();
  const t0 = performance.now();
  await sleep(30_000);
  const qps = ((commits() - c0) / (performance.now() - t0)) * 1000;
  console.log(`statements while ${count} desktops waited 30 s (calls, statement):\n${statements()}`);

  for (const code of codes.slice(0, SAMPLES)) {
    approvedAt.set(code.id, performance.now());
    post("/api/qr/approve", { id: code.id }, phone.access_token).catch((e) => console.error(e.message));
    await sleep(10);
  }
  while (latencies.length < SAMPLES) await sleep(50);
  running = false;
  // Release the rest: deny them so their polls return at once.
  await inBatches(codes.slice(SAMPLES), 200, (code) => post("/api/qr/deny", { id: code.id }, phone.access_token));
  await Promise.all(waiters);

  latencies.sort((a, b) => a - b);
  if (errors) console.log(`${errors} poll requests failed and were retried`);
  results.push({ count, p50: percentile(latencies, 50), p99: percentile(latencies, 99), idleRss, waitingRss, qps });
}

console.log("\nQR approve → waiting desktop (approve request sent → that desktop's poll has its tokens)");
console.log("waiting   samples   p50 ms   p99 ms   server RSS idle → waiting   DB transactions/s while waiting");
for (const r of results) {
  console.log(
    `${String(r.count).padStart(7)}   ${String(SAMPLES).padStart(7)}   ${r.p50.toFixed(1).padStart(6)}   ${r.p99.toFixed(1).padStart(6)}` +
      `   ${r.idleRss.toFixed(0).padStart(6)} MiB → ${r.waitingRss.toFixed(0).padStart(4)} MiB        ${r.qps.toFixed(1)}`,
  );
}
writeFileSync(process.env.RESULTS ?? "/dev/null", JSON.stringify(results, null, 2));
