import { request } from "@playwright/test";
import { baseURL } from "./playwright.config";
import { ADMIN } from "./tests/helpers";

// The first account of an install becomes its admin. Create it here, before any test, so every
// account the tests register is an ordinary student.
export default async function globalSetup() {
  const api = await request.newContext({ baseURL });
  const res = await api.post("/api/register", {
    form: { ...ADMIN, time_zone: "UTC" },
    headers: { Accept: "application/json" },
  });
  if (!res.ok()) {
    throw new Error(`could not create the admin account: ${res.status()} ${await res.text()}`);
  }
  await api.dispose();
}
