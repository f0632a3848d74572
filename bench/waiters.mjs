// Shared by qr-wait.mjs and notice-wait.mjs ("waiting is cheap"): many clients each holding a
// long poll on a TCP connection of its own, opened at a pace the server can take and spread over
// several loopback source addresses; the server's RSS (idle, waiting, after the waiters leave),
// the database's transactions per second while they wait, and the server's own count of waiting
// polls (its metrics endpoint).
import http from "node:http";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

export const BASE = new URL(process.env.BASE ?? "http://127.0.0.1:3200");
const METRICS = process.env.METRICS ? new URL(process.env.METRICS) : null;
const SERVER_PID = process.env.SERVER_PID;
const DATABASE_URL = process.env.DATABASE_URL;
export const WAITERS = Number(process.env.WAITERS ?? 10000);
export const SAMPLES = Math.min(WAITERS, Number(process.env.SAMPLES ?? 200));
export const WARMUP = Math.min(WAITERS, Number(process.env.WARMUP ?? 200));
/** New waiters per second, at most: each one's first poll costs the server a query or two at once. */
export const RAMP_PER_SECOND = Number(process.env.RAMP_PER_SECOND ?? 1000);
/** The server's poll timeout (qr_poll_wait): a waiter re-polls this often. Waiters arrive spread
 * over at least this long, so their re-polls are too, and a window of any length sees its share
 * of them (arriving all within 2 s, 2,000 waiters re-poll in lockstep: a 30 s window holds one
 * cycle, not 1.2, and reads 1/6 low). */
export const POLL_SECONDS = Number(process.env.POLL_SECONDS ?? 25);

// Source addresses: each client connection binds one of 127.0.0.1 … 127.0.0.K before connecting,
// at most WAITERS_PER_ADDRESS waiters on each, so no address runs short of ephemeral ports
// (28,232 from 32768–60999, less those still in TIME_WAIT). All of 127.0.0.0/8 is routed to lo.
const PER_ADDRESS = Number(process.env.WAITERS_PER_ADDRESS ?? 5000);
export const ADDRESSES = Math.min(254, Math.max(1, Math.ceil(WAITERS / PER_ADDRESS)));
const sourceAddress = (i) => `127.0.0.${1 + (i % ADDRESSES)}`;
export const addressRange = () => (ADDRESSES === 1 ? "127.0.0.1" : `127.0.0.1 … 127.0.0.${ADDRESSES}`);

/** Setup traffic (registering, creating and scanning codes, approving, signing in): a pool of
 * its own, from 127.0.0.1, apart from the waiters' connections. */
const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 200 });

export class HttpError extends Error {
  constructor(path, status, text) {
    super(`${path} ${status} ${text.slice(0, 200)}`);
    this.status = status;
  }
}

export function post(path, body = {}, token, agent = setupAgent) {
  const payload = JSON.stringify(body);
  const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(payload) };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: BASE.hostname, port: BASE.port, path, method: "POST", headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) reject(new HttpError(path, res.statusCode, text));
        else resolve(JSON.parse(text));
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** The waiters: each has one connection of its own (an agent of one socket, kept alive between
 * its polls as a browser tab's is), bound to its source address. */
export class Waiters {
  agents = [];
  inFlight = 0; // polls sent and not yet answered
  failures = new Map(); // why polls failed (they are retried): "503" → count
  running = true;

  agent(i) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: sourceAddress(i) });
    this.agents.push(agent);
    return agent;
  }

  /** A plain request on `agent` before its first poll, as a page's connection has carried the page
   * before the page polls: the server then takes the poll over from hyper on a used connection. */
  arrive(agent) {
    return new Promise((resolve, reject) => {
      http.get({ host: BASE.hostname, port: BASE.port, path: "/healthz", agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      }).on("error", reject);
    });
  }

  /** One poll on `agent`: the answer, or null after a failure (counted, then a pause of 0.5–1.5 s
   * so a refused burst spreads out before it is retried). */
  async poll(agent, path, body, token) {
    this.inFlight += 1;
    try {
      return await post(path, body, token, agent);
    } catch (error) {
      if (this.running) {
        const why = error.status ?? error.code ?? error.message;
        this.failures.set(why, (this.failures.get(why) ?? 0) + 1);
        await sleep(500 + Math.random() * 1000);
      }
      return null;
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Starts `start(i)` for i < count in steps of 50 ms, spread over POLL_SECONDS (unless
   * `spread` is false) and at most RAMP_PER_SECOND: as clients would arrive, not one SYN flood,
   * and no more first polls at once than the database pool answers before its acquire timeout
   * (a 503, retried). Resolves once all have started, with their promises. */
  async ramp(count, start, spread = true) {
    const rate = spread ? Math.min(RAMP_PER_SECOND, count / POLL_SECONDS) : RAMP_PER_SECOND;
    const step = Math.max(1, Math.round(rate / 20));
    const started = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i += step) {
      for (let j = i; j < Math.min(count, i + step); j++) started.push(start(j));
      await sleep(t0 + ((i + step) / rate) * 1000 - performance.now());
    }
    this.rate = rate;
    return started;
  }

  /** The waiters leave: every one of their sockets is closed (polls in flight are cut off). */
  leave() {
    this.running = false;
    for (const agent of this.agents) agent.destroy();
    this.agents = [];
  }

  failureSummary() {
    return [...this.failures].map(([why, n]) => `${why} ×${n}`).join(", ");
  }
}

/** The server's resident set (VmRSS of /proc/SERVER_PID/status), in KiB. */
export const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${SERVER_PID}/status`, "utf8"))[1]);
export const psql = (sql) => execFileSync("psql", [DATABASE_URL, "-qtAc", sql]).toString().trim();
const commits = () => Number(psql("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));

/** Transactions committed per second in the bench database over `seconds`. PostgreSQL publishes
 * a backend's counters up to 10 s late, so the caller makes both readings come after spells of
 * the same kind (waiting, nobody approving), and `onStart` runs right after the first reading. */
export async function transactionsPerSecond(seconds, onStart = () => {}) {
  const c0 = commits();
  const t0 = performance.now();
  onStart();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  return { tps: (commits() - c0) / elapsed, elapsed };
}

/** With pg_stat_statements loaded (scripts/bench-qr and bench-notices load it on a cluster they
 * start): a function listing the bench database's statements run from now on, most calls first. */
export function statementsSince() {
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

/** A gauge from the server's metrics endpoint (METRICS), or NaN without one. */
export async function gauge(name) {
  if (!METRICS) return NaN;
  const text = await new Promise((resolve) => {
    http
      .get(METRICS, { agent: false }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks).toString()));
      })
      .on("error", () => resolve(""));
  });
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : NaN;
}

/** Waits (up to `seconds`) until the server counts `count` polls of `gaugeName` waiting, or, with
 * no metrics endpoint, until `count` of the waiters' polls are in flight; then how many are. */
export async function untilWaiting(waiters, gaugeName, count, seconds = 120) {
  const waiting = async () => {
    const n = await gauge(gaugeName);
    return Number.isNaN(n) ? waiters.inFlight : n;
  };
  const deadline = performance.now() + seconds * 1000;
  let n;
  while ((n = await waiting()) < count && performance.now() < deadline) await sleep(500);
  return n;
}

/** Once `started`, waits until all WAITERS `noun` (desktops, sessions) wait on `gaugeName`, then
 * measures them: PostgreSQL transactions/s over 30 s (after 11 s of quiet: PostgreSQL publishes a
 * backend's counters up to 10 s late; 30 s spans one full 25 s poll cycle, so every waiter
 * re-polls in it), the statements that ran, and the server's RSS. Prints the first two. */
export async function measureWaiting(waiters, started, gaugeName, noun) {
  const t0 = performance.now();
  await started;
  const waiting = await untilWaiting(waiters, gaugeName, WAITERS);
  console.log(
    `${waiting} of ${WAITERS} ${noun} waiting (from ${addressRange()}, opened at ${waiters.rate.toFixed(0)}/s, ` +
      `all waiting ${((performance.now() - t0) / 1000).toFixed(0)} s after the first)`,
  );
  await sleep(11_000);
  let statements;
  const { tps, elapsed } = await transactionsPerSecond(30, () => (statements = statementsSince()));
  const loaded = rssKiB();
  console.log(`statements while ${WAITERS} ${noun} waited ${elapsed.toFixed(0)} s (calls, statement):\n${statements()}`);
  return { waiting, tps, elapsed, loaded };
}

/** Closes every waiter's socket, then the server's RSS (KiB) and its count of waiting polls at
 * +5, +15 and +30 s. */
export async function afterLeaving(waiters, gaugeName) {
  waiters.leave();
  const t0 = performance.now();
  const readings = [];
  for (const at of [5, 15, 30]) {
    await sleep(t0 + at * 1000 - performance.now());
    readings.push({ at, rss: rssKiB(), waiting: await gauge(gaugeName) });
  }
  return readings;
}

export async function inBatches(items, size, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// The report: RSS in MiB (1 MiB = 1024 KiB, as VmRSS counts them), a waiter's share in KiB.
const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
const signed = (kib) => `${kib >= 0 ? "+" : "−"}${(Math.abs(kib) / 1024).toFixed(1)} MiB`;

/** The lines both benchmarks print: waiting, memory, database, `latency` (lines), leaving. */
export function memoryReport({ noun, count, waiting, idle, loaded, tps, window, quiet, perPoll, latency, after }) {
  const line = (label, value, note = "") => `${label.padEnd(36)}${value.padStart(10)}${note && `   ${note}`}`;
  const lines = [
    line(`${noun} waiting:`, `${waiting}`, `of ${count}, from ${addressRange()}`),
    line("server RSS idle:", mib(idle), `after a ${WARMUP}-waiter warm-up, before any waiter`),
    line(`server RSS, ${count} waiting:`, mib(loaded)),
    line("RSS per waiter over idle:", `${((loaded - idle) / count).toFixed(1)} KiB`),
    line("PostgreSQL transactions/s waiting:", tps.toFixed(1), `xact_commit over ${window.toFixed(0)} s, ${quiet}; ${perPoll}`),
    ...latency,
    "RSS after the waiters leave (all their sockets closed):",
  ];
  for (const r of after) {
    const polls = Number.isNaN(r.waiting) ? "" : `; server holds ${r.waiting} polls`;
    lines.push(line(`  +${r.at} s:`, mib(r.rss), `${signed(r.rss - idle)} over idle${polls}`));
  }
  return lines.join("\n");
}
