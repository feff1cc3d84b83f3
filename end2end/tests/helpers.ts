import { expect, request, type Browser, type BrowserContext, type Locator, type Page } from "@playwright/test";
import { baseURL } from "../playwright.config";

export const PASSWORD = "violet-anchor-trombone";

/** Created by global-setup.ts as the install's first account, so it is the admin. */
export const ADMIN = {
  username: "e2e-admin",
  email: "e2e-admin@example.org",
  display_name: "Erin Admin",
  password: PASSWORD,
};

/** A username no other test (or earlier run against the same server) has used. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** Load a page and wait until the wasm client has hydrated it. */
export async function open(page: Page, path: string) {
  const response = await page.goto(path);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  return response;
}

export async function register(page: Page, username: string, displayName: string) {
  await open(page, "/register");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill(displayName);
  await page.getByLabel("Email").fill(`${username}@example.org`);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: `Hello, ${displayName}` })).toBeVisible();
}

export async function signIn(page: Page, login: string, password = PASSWORD) {
  await open(page, "/login");
  await page.getByLabel("Username or email").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
}

/** Make `username` a teacher, as the admin would on the Admin page. */
export async function promote(username: string) {
  const api = await request.newContext({ baseURL });
  const login = await api.post("/api/login", { form: { login: ADMIN.username, password: PASSWORD } });
  expect(login.ok()).toBeTruthy();
  const list = await api.post("/api/admin/users", { form: { filter: username, page: "0" } });
  const { users } = await list.json();
  const res = await api.post("/api/admin/set_role", { form: { user_id: String(users[0].id), role: "teacher" } });
  expect(res.ok()).toBeTruthy();
  await api.dispose();
}

/** What `/api/classes/create` takes; `scheduleClass` fills in a one-off open live class. */
export interface ClassForm {
  title: string;
  description?: string;
  kind?: "live" | "recorded";
  time_zone: string;
  start_local: string;
  duration_minutes?: number;
  capacity?: number | null;
  enrolment?: "open" | "invite" | "closed";
  recurrence?: unknown;
}

/** Schedule a class as the teacher signed in on `page`; returns its id. */
export async function scheduleClass(page: Page, form: ClassForm): Promise<number> {
  const res = await page.request.post("/api/classes/create", {
    data: {
      form: {
        description: "", kind: "live", duration_minutes: 60, capacity: null, enrolment: "open", recurrence: null,
        ...form,
      },
    },
  });
  expect(res.ok(), await res.text()).toBeTruthy();
  return res.json();
}

/** This minute in UTC as `YYYY-MM-DDTHH:MM`: a class that starts now is live now. */
export function thisMinuteUtc(): string {
  return new Date().toISOString().slice(0, 16);
}

/** Open a class's live room and wait until the page is connected to it. */
export async function enterRoom(page: Page, classId: number) {
  await open(page, `/classes/${classId}/live`);
  await expect(page.getByTestId("room-status")).toHaveText("Live");
}

/**
 * A teacher (registered and signed in on `page`) with a class that is live now, and a student
 * enrolled in it, signed in on a page of a browser context of their own; `prepare` may set the
 * student's context up before any page opens.
 */
export async function teacherAndStudent(
  page: Page,
  browser: Browser,
  names: { teacher: string; student: string; title: string },
  prepare?: (context: BrowserContext) => Promise<void>,
) {
  const teacherLogin = uniqueName(names.teacher.split(" ")[0].toLowerCase());
  await register(page, teacherLogin, names.teacher);
  await promote(teacherLogin);
  const classId = await scheduleClass(page, { title: names.title, time_zone: "UTC", start_local: thisMinuteUtc() });
  const studentContext = await browser.newContext();
  if (prepare) await prepare(studentContext);
  const student = await studentContext.newPage();
  await register(student, uniqueName(names.student.split(" ")[0].toLowerCase()), names.student);
  const enrolled = await student.request.post("/api/classes/enrol", { form: { class_id: String(classId) } });
  expect(enrolled.ok()).toBeTruthy();
  return { classId, student, studentContext };
}

/** A `<video>` shows moving pictures: it has a size, decodes frames and its clock advances. */
export async function expectMovingPictures(video: Locator) {
  await expect(video).toHaveCount(1);
  const read = () =>
    video.evaluate((v: HTMLVideoElement) => ({
      width: v.videoWidth,
      time: v.currentTime,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
    }));
  await expect.poll(async () => (await read()).width, { timeout: 30_000 }).toBeGreaterThan(0);
  const before = await read();
  await expect.poll(async () => (await read()).time, { timeout: 15_000 }).toBeGreaterThan(before.time + 0.5);
  expect((await read()).frames).toBeGreaterThan(before.frames);
}

/**
 * Keep every WebSocket a page of `context` opens within the test's reach (`window.__sockets`);
 * while `window.__blockSockets` is true, new sockets go to a closed port instead.
 */
export async function keepSockets(context: BrowserContext) {
  await context.addInitScript(() => {
    const w = window as any;
    const Real = window.WebSocket;
    w.__sockets = [];
    w.__blockSockets = false;
    const Patched = function (url: string | URL, protocols?: string | string[]) {
      const socket = new Real(w.__blockSockets ? "ws://127.0.0.1:9/closed" : url, protocols);
      w.__sockets.push(socket);
      return socket;
    } as unknown as typeof WebSocket;
    Object.assign(Patched, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3, prototype: Real.prototype });
    w.WebSocket = Patched;
  });
}

/** Drag the mouse across a canvas, from and to fractions of its size. */
export async function stroke(page: Page, canvas: Locator, from: [number, number], to: [number, number]) {
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  if (!box) throw new Error("the canvas is not on screen");
  await page.mouse.move(box.x + box.width * from[0], box.y + box.height * from[1]);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) {
    const t = i / 12;
    await page.mouse.move(
      box.x + box.width * (from[0] + (to[0] - from[0]) * t),
      box.y + box.height * (from[1] + (to[1] - from[1]) * t),
    );
  }
  await page.mouse.up();
}
