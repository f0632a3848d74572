import { defineConfig, devices } from "@playwright/test";

// Debian's Chromium: Playwright's own browser download is not available offline.
const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
};

// E2E_PORT_BASE moves both servers (base and base + 1), so two checkouts can run side by side.
const PORT_BASE = Number(process.env.E2E_PORT_BASE ?? 3100);
const MAIN = `http://127.0.0.1:${PORT_BASE}`;

const server = (addr: string, extra: Record<string, string> = {}) => ({
  command: "./target/debug/sesame",
  cwd: "..",
  url: `http://${addr}/login`,
  reuseExistingServer: false,
  timeout: 120_000,
  stdout: "pipe" as const,
  env: {
    DATABASE_URL: process.env.DATABASE_URL ?? "",
    SESAME_SITE_ADDR: addr,
    SESAME_JWT_SECRET_FILE: "target/e2e/jwt-secret",
    // The whole suite signs in from 127.0.0.1; the limits themselves are tested in api.spec.ts.
    SESAME_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: "10000",
    SESAME_SIGN_INS_PER_ACCOUNT_PER_HOUR: "10000",
    SESAME_SIGN_INS_PER_KNOWN_BROWSER_PER_HOUR: "10000",
    SESAME_QR_CODES_PER_IP_PER_MINUTE: "10000",
    SESAME_LOG: "warn,sesame=info",
    SESAME_METRICS_ADDR: "",
    ...extra,
  },
});

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 2,
  retries: 0,
  reporter: [["list"]],
  use: { baseURL: MAIN, launchOptions, trace: "retain-on-failure" },
  projects: [
    { name: "desktop", use: { ...devices["Desktop Chrome"], launchOptions } },
    // The account flow again on a phone-sized screen with touch.
    { name: "phone", use: { ...devices["Pixel 7"], launchOptions }, testMatch: /account\.spec\.ts/ },
  ],
  webServer: [
    // Prometheus metrics on a private address of their own (METRICS in tests/helpers.ts).
    server(`127.0.0.1:${PORT_BASE}`, { SESAME_METRICS_ADDR: `127.0.0.1:${PORT_BASE + 90}` }),
    // A second server with tiny lifetimes, for expiry: access tokens last 3 s, QR codes 4 s. It
    // also trusts one proxy hop, so tests can speak for clients at other addresses.
    server(`127.0.0.1:${PORT_BASE + 1}`, {
      SESAME_ACCESS_TOKEN_TTL: "3s",
      SESAME_QR_LIFETIME: "4s",
      SESAME_TRUSTED_PROXY_HOPS: "1",
    }),
  ],
});
