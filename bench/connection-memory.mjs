// Where a waiting poll's memory goes, first cut (prints numbers; asserts nothing): the server's
// RSS with N idle keep-alive connections, then with each holding a request whose head has arrived
// and whose body has not (the request sits in hyper and the middleware, before any handler runs),
// then after the connections close. Compare with scripts/bench-qr's RSS per waiting desktop.
import net from "node:net";
import { readFileSync } from "node:fs";

const BASE = new URL(process.env.BASE ?? "http://127.0.0.1:3200");
const PID = process.env.SERVER_PID;
const N = Number(process.env.COUNT ?? 10000);
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, "utf8"))[1]) / 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const each = (mib, base) => `${(((mib - base) * 1024) / N).toFixed(1)} KiB each`;

const idle = rss();
const sockets = [];
for (let i = 0; i < N; i++) {
  const socket = net.connect(Number(BASE.port), BASE.hostname);
  socket.on("error", () => {});
  sockets.push(socket);
  if (i % 250 === 249) await sleep(30);
}
await sleep(4000);
const connected = rss();
for (const socket of sockets) {
  socket.write("POST /api/qr/poll HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
}
await sleep(4000);
const pending = rss();
for (const socket of sockets) socket.destroy();
await sleep(5000);
const after = rss();
console.log(`\nServer RSS with ${N} connections (release build)`);
console.log(`idle server:                                          ${idle.toFixed(0)} MiB`);
console.log(`idle keep-alive connections:                          ${connected.toFixed(0)} MiB (${each(connected, idle)})`);
console.log(`each with a request head in, its body not yet sent:   ${pending.toFixed(0)} MiB (${each(pending, idle)})`);
console.log(`5 s after they all closed:                            ${after.toFixed(0)} MiB`);
process.exit(0);
