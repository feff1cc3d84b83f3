import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// The whiteboard benchmark (bench/board.sh): the browser tests' server and browser, with the
// room's per-connection message limits raised so that one socket can fill a page with
// thousands of drawings in seconds.
const server = Array.isArray(base.webServer) ? base.webServer[0] : base.webServer!;
export default defineConfig({
  ...base,
  testDir: "./bench",
  timeout: 300_000,
  webServer: {
    ...server,
    // The release build (bench/board.sh builds it): the figures are for what people run.
    command: String(server.command).replace("target/debug/lectern", "target/release/lectern"),
    env: {
      ...server.env,
      LECTERN_ROOM__MESSAGES_PER_SECOND: "100000",
      LECTERN_ROOM__MESSAGE_BURST: "100000",
      LECTERN_ROOM__CLIENT_QUEUE: "50000",
    },
  },
});
