import { defineConfig } from "@playwright/test";

// Lectern's browser tests. They drive Debian's Chromium (never a downloaded browser) against the
// debug `lectern` binary, started on a fresh SQLite database in end2end/.data.
const port = Number(process.env.LECTERN_E2E_PORT ?? 3107);
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  globalSetup: "./global-setup.ts",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        browserName: "chromium",
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
          ],
        },
      },
    },
  ],
  webServer: {
    // Run from the repository root so the default site root (target/site) resolves.
    cwd: "..",
    command: "rm -rf end2end/.data && mkdir -p end2end/.data && exec target/debug/lectern serve",
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      LECTERN_SERVER__BIND: `127.0.0.1:${port}`,
      LECTERN_DATABASE__URL: "sqlite://end2end/.data/e2e.db",
      LECTERN_LOG__FILTER: "warn",
      LECTERN_MEDIA__UDP_PORT: "0",
      LECTERN_MEDIA__BIND_IP: "127.0.0.1",
      LECTERN_UPLOADS__DIR: "end2end/.data/files",
    },
  },
});
