// "New sign-in" notice benchmark, "waiting is cheap" (prints numbers; asserts nothing); run by
// scripts/bench-notices, which describes what it prints. WAITERS users are seeded straight into
// the database, each with one session whose refresh token we know (so seeding costs no password
// hashing); each session long-polls /api/notices/poll on a connection of its own (re-polling when
// a poll times out, as the page does), from one of several loopback source addresses. While they
// all wait: the server's RSS and the database's transactions per second (and, with
// pg_stat_statements loaded, which statements ran). Then SAMPLES of those users sign in with
// their password, one after another, and we time login sent → that user's waiting session has
// the notice. Last, every session leaves (its socket closed) and we watch the RSS fall.
import {
  SAMPLES, WAITERS, WARMUP, Waiters, post, psql, rssKiB, gauge, untilWaiting,
  afterLeaving, inBatches, percentile, sleep, memoryReport, measureWaiting,
} from "./waiters.mjs";

const GAUGE = "sesame_notice_polls_waiting";
const PASSWORD = "bench password";

// One real registration gives the argon2 hash every seeded user shares. The warm-up's users come
// after the WAITERS measured ones.
const template = `nb_template_${Date.now()}`;
await post("/api/register", { username: template, password: PASSWORD });
psql(`INSERT INTO users (id, username, password_hash)
      SELECT gen_random_uuid(), 'nb_' || i, (SELECT password_hash FROM users WHERE username = '${template}')
      FROM generate_series(1, ${WAITERS + WARMUP}) AS i;
      INSERT INTO sessions (id, user_id, method, expires_at, refresh_hash)
      SELECT gen_random_uuid(), id, 'password', now() + interval '1 day',
             sha256(convert_to('nb-token-' || substr(username, 4), 'UTF8'))
      FROM users WHERE username ~ '^nb_[0-9]+$';`);
const everyone = [...Array(WAITERS + WARMUP).keys()].map((i) => ({ name: `nb_${i + 1}` }));
await inBatches(everyone, 200, async (user) => {
  user.token = (await post("/api/refresh", { refresh_token: `nb-token-${user.name.slice(3)}` })).access_token;
});
const users = everyone.slice(0, WAITERS);
console.log(`${WAITERS} users with a session each (and ${WARMUP} for the warm-up)`);

/** Every session waits on its own connection; a poll that times out (or is refused) is sent again. */
function sessions(list, spread = true) {
  const waiters = new Waiters();
  const wait = async (user, i) => {
    const agent = waiters.agent(i);
    await waiters.arrive(agent);
    let answer = null;
    while (waiters.running && !answer) answer = await waiters.poll(agent, "/api/notices/poll", {}, user.token);
    let cursor = answer?.cursor;
    while (waiters.running) {
      answer = await waiters.poll(agent, "/api/notices/poll", { after: cursor }, user.token);
      if (!answer) continue;
      cursor = answer.cursor;
      if (answer.notices.length > 0 && user.onNotice) user.onNotice(performance.now());
    }
  };
  return { waiters, started: waiters.ramp(list.length, (i) => wait(list[i], i), spread) };
}

// Warm-up: a few sessions wait, then leave.
{
  const { waiters, started } = sessions(everyone.slice(WAITERS), false);
  await started;
  await untilWaiting(waiters, GAUGE, WARMUP, 30);
  waiters.leave();
  for (let i = 0; i < 60 && (await gauge(GAUGE)) > 0; i++) await sleep(500);
}
await sleep(2000);
const idle = rssKiB();

const { waiters, started } = sessions(users);
const { waiting, tps, elapsed, loaded } = await measureWaiting(waiters, started, GAUGE, "sessions");

const fromSent = [];
const fromAnswered = [];
const loginTimes = [];
let missed = 0;
for (const user of users.slice(0, SAMPLES)) {
  const noticed = new Promise((resolve) => (user.onNotice = resolve));
  const sent = performance.now();
  await post("/api/login", { username: user.name, password: PASSWORD });
  const answered = performance.now();
  const at = await Promise.race([noticed, sleep(10_000).then(() => null)]);
  user.onNotice = undefined;
  loginTimes.push(answered - sent);
  if (at === null) missed += 1;
  else {
    fromSent.push(at - sent);
    fromAnswered.push(Math.max(0, at - answered));
  }
  await sleep(10);
}
const failures = waiters.failureSummary();
const after = await afterLeaving(waiters, GAUGE);

for (const list of [fromSent, fromAnswered, loginTimes]) list.sort((a, b) => a - b);
const f = (list) => {
  const x = (p) => (list.length ? percentile(list, p).toFixed(1) : "–").padStart(6);
  return `p50 ${x(50)} ms   p99 ${x(99)} ms`;
};
console.log(`\n"New sign-in" notice, ${WAITERS} sessions (of ${WAITERS} users) waiting, each on a connection of its own`);
if (failures) console.log(`poll requests that failed and were retried: ${failures}`);
console.log(
  memoryReport({
    noun: "sessions",
    count: WAITERS,
    waiting,
    idle,
    loaded,
    tps,
    window: elapsed,
    quiet: "nobody signing in",
    perPoll: `${WAITERS} sessions re-polling every 25 s, one query a poll, make ${(WAITERS / 25).toFixed(0)}/s`,
    latency: [
      `notice → the user's waiting session, ${SAMPLES} sign-ins one after another` +
        (missed ? ` (${missed} notices not received within 10 s)` : "") + ":",
      `  login sent → notice received:      ${f(fromSent)}`,
      `  login answered → notice received:  ${f(fromAnswered)}`,
      `  the login itself (argon2id):       ${f(loginTimes)}`,
    ],
    after,
  }),
);
process.exit(0);
