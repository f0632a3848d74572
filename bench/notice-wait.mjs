// "New sign-in" notice benchmark (prints numbers; asserts nothing). COUNT users are seeded
// straight into the database, each with one session whose refresh token we know (so seeding
// costs no password hashing); each session long-polls /api/notices/poll (re-polling when a poll
// times out, as the page does). Then SAMPLES of those users sign in with their password, one
// after another, and we time login sent → that user's waiting session has the notice. Also
// prints the server's RSS and the database's transactions per second while everyone waits.
import http from "node:http";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const BASE = new URL(process.env.BASE ?? "http://127.0.0.1:3200");
const SERVER_PID = process.env.SERVER_PID;
const DATABASE_URL = process.env.DATABASE_URL;
const COUNT = Number(process.env.COUNT ?? 10000);
const SAMPLES = Number(process.env.SAMPLES ?? 200);
const PASSWORD = "bench password";
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

const psql = (sql) => execFileSync("psql", [DATABASE_URL, "-qtAc", sql]).toString().trim();
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${SERVER_PID}/status`, "utf8"))[1]) / 1024;
const commits = () => Number(psql("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One real registration gives the argon2 hash every seeded user shares.
const template = `nb_template_${Date.now()}`;
await post("/api/register", { username: template, password: PASSWORD });
psql(`INSERT INTO users (id, username, password_hash)
      SELECT gen_random_uuid(), 'nb_' || i, (SELECT password_hash FROM users WHERE username = '${template}')
      FROM generate_series(1, ${COUNT}) AS i;
      INSERT INTO sessions (id, user_id, method, expires_at, refresh_hash)
      SELECT gen_random_uuid(), id, 'password', now() + interval '1 day',
             sha256(convert_to('nb-token-' || substr(username, 4), 'UTF8'))
      FROM users WHERE username ~ '^nb_[0-9]+$';`);
const users = [...Array(COUNT).keys()].map((i) => ({ name: `nb_${i + 1}` }));
await inBatches(users, 200, async (user) => {
  user.token = (await post("/api/refresh", { refresh_token: `nb-token-${user.name.slice(3)}` })).access_token;
});
console.log(`${COUNT} users with a session each`);
const idleRss = rssMiB();

let running = true;
let errors = 0;
const wait = async (user) => {
  let cursor = (await post("/api/notices/poll", {}, user.token)).cursor;
  while (running) {
    let answer;
    try {
      answer = await post("/api/notices/poll", { after: cursor }, user.token);
    } catch (error) {
      errors += 1;
      await sleep(100);
      continue;
    }
    cursor = answer.cursor;
    if (answer.notices.length > 0 && user.onNotice) user.onNotice(performance.now());
  }
};
const waiters = [];
for (let i = 0; i < users.length; i += 250) {
  waiters.push(...users.slice(i, i + 250).map(wait));
  await sleep(50);
}
console.log(`${COUNT} sessions waiting`);
await sleep(3000);
const waitingRss = rssMiB();
// PostgreSQL publishes a backend's counters up to 10 s late; the window spans a full poll cycle.
await sleep(11_000);
const c0 = commits();
const t0 = performance.now();
await sleep(30_000);
const tps = ((commits() - c0) / (performance.now() - t0)) * 1000;

const fromSent = [];
const fromAnswered = [];
const loginTimes = [];
for (const user of users.slice(0, SAMPLES)) {
  const noticed = new Promise((resolve) => (user.onNotice = resolve));
  const sent = performance.now();
  await post("/api/login", { username: user.name, password: PASSWORD });
  const answered = performance.now();
  const at = await noticed;
  fromSent.push(at - sent);
  fromAnswered.push(Math.max(0, at - answered));
  loginTimes.push(answered - sent);
  await sleep(10);
}
running = false;
for (const list of [fromSent, fromAnswered, loginTimes]) list.sort((a, b) => a - b);
if (errors) console.log(`${errors} poll requests failed and were retried`);
const f = (x) => x.toFixed(1).padStart(6);
console.log(`\n"New sign-in" notice → the user's waiting session, ${COUNT} sessions waiting, ${SAMPLES} sign-ins`);
console.log(`login sent → notice received:      p50 ${f(percentile(fromSent, 50))} ms   p99 ${f(percentile(fromSent, 99))} ms`);
console.log(`login answered → notice received:  p50 ${f(percentile(fromAnswered, 50))} ms   p99 ${f(percentile(fromAnswered, 99))} ms`);
console.log(`the login itself (argon2id):       p50 ${f(percentile(loginTimes, 50))} ms   p99 ${f(percentile(loginTimes, 99))} ms`);
console.log(`server RSS: ${idleRss.toFixed(0)} MiB idle → ${waitingRss.toFixed(0)} MiB with ${COUNT} waiting`);
console.log(`database transactions/s while waiting: ${tps.toFixed(1)} (each poll: token check + one read, every 25 s)`);
process.exit(0);
