// QR long-poll benchmark, "waiting is cheap" (prints numbers; asserts nothing); run by
// scripts/bench-qr, which describes what it prints. WAITERS desktops each create a code, which one
// signed-in phone scans; every desktop then long-polls its code on a connection of its own
// (re-polling when a poll times out, as the page does), from one of several loopback source
// addresses. While they all wait and nobody approves anything: the server's RSS and the
// database's transactions per second (and, with pg_stat_statements loaded, which statements ran).
// Then the phone approves SAMPLES codes one by one and we time approve-sent → that desktop's poll
// returning its tokens. Last, every desktop leaves (its socket closed) and we watch the RSS fall.
import {
  SAMPLES, WAITERS, WARMUP, Waiters, post, rssKiB, gauge, untilWaiting,
  afterLeaving, inBatches, percentile, sleep, memoryReport, measureWaiting,
} from "./waiters.mjs";

const GAUGE = "sesame_qr_polls_waiting";

const phone = await post("/api/register", { username: `qr_bench_${Date.now()}`, password: "bench password" });
const scannedCodes = async (count) => {
  const codes = await inBatches([...Array(count).keys()], 200, () => post("/api/qr/create"));
  await inBatches(codes, 200, (code) => post("/api/qr/scan", { id: code.id }, phone.access_token));
  return codes;
};

/** Every desktop waits on its own connection; a poll that times out (or is refused) is sent again. */
function desktops(codes, onApproved = () => {}, spread = true) {
  const waiters = new Waiters();
  const wait = async (code, i) => {
    const agent = waiters.agent(i);
    await waiters.arrive(agent);
    while (waiters.running) {
      const answer = await waiters.poll(agent, "/api/qr/poll", { id: code.id, secret: code.secret, seen: "scanned" });
      if (!answer) continue;
      if (answer.state === "approved") return onApproved(code, answer);
      if (answer.state !== "scanned") return;
    }
  };
  return { waiters, started: waiters.ramp(codes.length, (i) => wait(codes[i], i), spread) };
}

// Warm-up: a few desktops wait, are denied (their polls return), and leave.
{
  const codes = await scannedCodes(WARMUP);
  const { waiters, started } = desktops(codes, undefined, false);
  await untilWaiting(waiters, GAUGE, WARMUP, 30);
  await inBatches(codes, 200, (code) => post("/api/qr/deny", { id: code.id }, phone.access_token));
  await Promise.all(await started);
  waiters.leave();
  for (let i = 0; i < 60 && (await gauge(GAUGE)) > 0; i++) await sleep(500);
}

const codes = await scannedCodes(WAITERS);
console.log(`${WAITERS} codes created and scanned`);
await sleep(2000);
const idle = rssKiB();

const approvedAt = new Map();
const latencies = [];
const { waiters, started } = desktops(codes, (code) => {
  const sent = approvedAt.get(code.id);
  if (sent !== undefined) latencies.push(performance.now() - sent);
});
const { waiting, tps, elapsed, loaded } = await measureWaiting(waiters, started, GAUGE, "desktops");

for (const code of codes.slice(0, SAMPLES)) {
  approvedAt.set(code.id, performance.now());
  post("/api/qr/approve", { id: code.id }, phone.access_token).catch((e) => console.error(e.message));
  await sleep(10);
}
for (let i = 0; i < 600 && latencies.length < SAMPLES; i++) await sleep(100);
const failures = waiters.failureSummary();
// The rest leave while still waiting, as closed tabs do.
const after = await afterLeaving(waiters, GAUGE);

latencies.sort((a, b) => a - b);
const f = (x) => (x === undefined ? "–" : x.toFixed(1));
console.log(`\nQR sign-in, ${WAITERS} desktops waiting, each on a connection of its own`);
if (failures) console.log(`poll requests that failed and were retried: ${failures}`);
console.log(
  memoryReport({
    noun: "desktops",
    count: WAITERS,
    waiting,
    idle,
    loaded,
    tps,
    window: elapsed,
    quiet: "nobody approving",
    perPoll: `${WAITERS} desktops re-polling every 25 s, one query a poll, make ${(WAITERS / 25).toFixed(0)}/s`,
    latency: [
      `approve → waiting desktop (approve sent → its poll has the tokens), ${latencies.length} of ${SAMPLES} samples:`,
      `  p50 ${f(percentile(latencies, 50))} ms   p99 ${f(percentile(latencies, 99))} ms   max ${f(latencies.at(-1))} ms`,
    ],
    after,
  }),
);
process.exit(0);
