// What one ordinary account, or a few hundred networks, can do to everyone else (prints numbers;
// asserts nothing). Two parts, each while a bystander measures its own calls:
//  1. One account keeps 100 notice polls waiting on its session (as a page would, pausing when
//     the server displaces one) and calls /api/sessions/revoke_others from 12 connections for
//     DURATION seconds. Another user meanwhile calls /api/me from 4 connections.
//  2. 256 networks (named by X-Forwarded-For; the server trusts one proxy hop from loopback),
//     each under its own sign-in limit, flood /api/login from 64 connections; meanwhile a real
//     person signs in from a network of their own, first from a browser the account knows (it
//     sends its known-browser token), then from a new one, retrying on 503 busy as the page does.
import http from "node:http";
import { execFileSync } from "node:child_process";

const BASE = new URL(process.env.BASE ?? "http://127.0.0.1:3200");
const DATABASE_URL = process.env.DATABASE_URL;
const DURATION = Number(process.env.DURATION ?? 20) * 1000;
const PASSWORD = "bench password";
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function post(path, body = {}, { token, forwardedFor } = {}) {
  const payload = JSON.stringify(body);
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(payload) };
  if (token) headers.authorization = `Bearer ${token}`;
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  return new Promise((resolve) => {
    const req = http.request({ host: BASE.hostname, port: BASE.port, path, method: "POST", headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, json, retryAfter: Number(res.headers["retry-after"] ?? 0) });
      });
    });
    req.on("error", (error) => resolve({ status: 0, json: null, error }));
    req.end(payload);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const psql = (sql) => execFileSync("psql", [DATABASE_URL, "-qtAc", sql]).toString().trim();
const commits = () => Number(psql("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));
const f = (x) => x.toFixed(1).padStart(6);
const tally = (counts, key) => (counts[key] = (counts[key] ?? 0) + 1);

async function register(name, forwardedFor) {
  const answer = await post("/api/register", { username: name, password: PASSWORD }, { forwardedFor });
  if (answer.status !== 200) throw new Error(`register ${name}: ${answer.status}`);
  return answer.json.access_token;
}

/** Calls /api/me from `connections` loops until `until()`; latencies of the answers, and failures. */
async function bystander(token, connections, until) {
  const latencies = [];
  const failures = {};
  await Promise.all(
    [...Array(connections)].map(async () => {
      while (until()) {
        const sent = performance.now();
        const answer = await post("/api/me", {}, { token });
        latencies.push(performance.now() - sent);
        if (answer.status !== 200) tally(failures, answer.status);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), failures };
}

const stamp = Date.now();
const attacker = await register(`abuse_a_${stamp}`, "192.0.2.1");
const other = await register(`abuse_b_${stamp}`, "192.0.2.2");

// Part 1.
let running = true;
const polls = { answered: 0, displaced: 0, statuses: {} };
const poller = async () => {
  let cursor = (await post("/api/notices/poll", {}, { token: attacker })).json?.cursor ?? 0;
  while (running) {
    const sent = performance.now();
    const answer = await post("/api/notices/poll", { after: cursor }, { token: attacker });
    if (answer.status !== 200) {
      tally(polls.statuses, answer.status);
      await sleep(1000 * Math.max(1, answer.retryAfter));
      continue;
    }
    polls.answered += 1;
    cursor = answer.json.cursor;
    if (answer.json.notices.length === 0 && performance.now() - sent < 2000) {
      polls.displaced += 1;
      await sleep(20_000 + Math.random() * 10_000);
    }
  }
};
const pollers = [...Array(100)].map(poller);
await sleep(2000);
const revokes = {};
const c0 = commits();
const t0 = performance.now();
const until = () => performance.now() - t0 < DURATION;
const hammer = Promise.all(
  [...Array(12)].map(async () => {
    while (until()) tally(revokes, (await post("/api/sessions/revoke_others", {}, { token: attacker })).status);
  }),
);
const me = await bystander(other, 4, until);
await hammer;
const elapsed = performance.now() - t0;
const tps = ((commits() - c0) / elapsed) * 1000;
running = false;

console.log(`\nOne account: 100 notice polls on its session, revoke_others from 12 connections, ${DURATION / 1000} s`);
console.log(`revoke_others answers by status:   ${JSON.stringify(revokes)}`);
console.log(`its notice polls:                  ${polls.displaced} displaced at once (the server keeps 2 per session), ${polls.answered} answered in all`);
console.log(`another user's /api/me (4 conns):  ${me.latencies.length} calls, failures ${JSON.stringify(me.failures)}, p50 ${f(percentile(me.latencies, 50))} ms   p99 ${f(percentile(me.latencies, 99))} ms`);
console.log(`database transactions/s:           ${tps.toFixed(0)} (commits counted by PostgreSQL, published up to 10 s late)`);

// Part 2.
const person = `abuse_p_${stamp}`;
const registered = await post("/api/register", { username: person, password: PASSWORD }, { forwardedFor: "192.0.2.3" });
const knownBrowser = registered.json.known_browser;
const floodStatuses = {};
const t1 = performance.now();
const flooding = () => performance.now() - t1 < DURATION;
let n = 0;
const flood = Promise.all(
  [...Array(64)].map(async () => {
    while (flooding()) {
      n += 1;
      const network = `198.18.${n % 256}.${1 + (n % 7)}`;
      const answer = await post("/api/login", { username: `nobody_${n}`, password: "a guess" }, { forwardedFor: network });
      tally(floodStatuses, answer.status);
    }
  }),
);
await sleep(2000);
/** Signs the person in until `until()`, retrying on 503 busy as the page does. */
async function signIns(known, until) {
  const times = [];
  let retries = 0;
  while (until()) {
    const started = performance.now();
    for (;;) {
      const body = { username: person, password: PASSWORD, ...(known ? { known_browser: knownBrowser } : {}) };
      const answer = await post("/api/login", body, { forwardedFor: "192.0.2.3" });
      if (answer.status === 200) break;
      if (answer.status !== 503) throw new Error(`the person's sign-in: ${answer.status}`);
      retries += 1;
      await sleep(1000 * Math.max(1, answer.retryAfter));
    }
    times.push(performance.now() - started);
    // Under the person's own network limit (30 a minute).
    await sleep(1500);
  }
  return { times: times.sort((a, b) => a - b), retries };
}
const known = await signIns(true, () => performance.now() - t1 < DURATION / 2);
const unknown = await signIns(false, () => performance.now() - t1 < DURATION - 3000);
await flood;
const line = (label, { times, retries }) =>
  console.log(`${label} ${String(times.length).padStart(3)} sign-ins, ${retries} retries, p50 ${f(percentile(times, 50))} ms   max ${f(times.at(-1))} ms`);
console.log(`\n256 networks flood /api/login from 64 connections, ${DURATION / 1000} s`);
console.log(`the flood's answers by status:     ${JSON.stringify(floodStatuses)}`);
line("a real sign-in, from a browser the account knows:   ", known);
line("a real sign-in, from a new browser (retrying on 503):", unknown);
process.exit(0);
