import { expect, test, type Page } from "@playwright/test";
import { open, promote, register, scheduleClass, uniqueName } from "./helpers";

// A Monday well in the future, so the test never meets "now".
const MONDAY = "2031-03-03";
const WEDNESDAY = "2031-03-05";
const HOUR_PX = 48;

/** Press the mouse at `from`, move in steps to `to`, release: a real pointer drag. */
async function drag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) {
    await page.mouse.move(from.x + ((to.x - from.x) * i) / 8, from.y + ((to.y - from.y) * i) / 8);
  }
  await page.mouse.up();
}

test("a teacher drags out a weekly class and moves one occurrence; a student enrols and sees it", async ({ page, browser }) => {
  const teacher = uniqueName("rosa");
  const title = `Algebra ${teacher}`;
  await register(page, teacher, "Rosa Rivera");
  await promote(teacher);

  await open(page, `/schedule?view=week&date=${MONDAY}`);
  await expect(page.getByRole("heading", { name: "3 – 9 March 2031" })).toBeVisible();

  // Drag across Monday from 09:00 to 10:00 on the time grid: the dialog opens with that slot.
  const monday = page.locator(`.day-column[data-date="${MONDAY}"]`);
  await monday.scrollIntoViewIfNeeded();
  const box = (await monday.boundingBox())!;
  const nineAm = box.y + 9 * HOUR_PX + 2;
  await drag(page, { x: box.x + box.width / 2, y: nineAm }, { x: box.x + box.width / 2, y: nineAm + HOUR_PX });
  const dialog = page.getByRole("dialog", { name: "Schedule a class" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("Date")).toHaveValue(MONDAY);
  await expect(dialog.getByLabel("Start")).toHaveValue("09:00");
  await expect(dialog.getByLabel("Minutes")).toHaveValue("60");

  await dialog.getByLabel("Title").fill(title);
  await dialog.getByLabel("Repeats").selectOption("weekly");
  await expect(dialog.getByRole("checkbox", { name: "Mon" })).toBeChecked();
  await dialog.getByLabel("Times").fill("3");
  await dialog.getByRole("button", { name: "Schedule" }).click();
  await expect(dialog).toBeHidden();

  const mondayEvent = monday.locator(".event", { hasText: title });
  await expect(mondayEvent).toBeVisible();
  await expect(mondayEvent).toContainText("09:00 – 10:00");

  // Drag Monday's occurrence to Wednesday at the same time.
  const wednesday = page.locator(`.day-column[data-date="${WEDNESDAY}"]`);
  const eventBox = (await mondayEvent.boundingBox())!;
  const wedBox = (await wednesday.boundingBox())!;
  await drag(
    page,
    { x: eventBox.x + eventBox.width / 2, y: eventBox.y + 10 },
    { x: wedBox.x + wedBox.width / 2, y: eventBox.y + 10 },
  );
  await expect(wednesday.locator(".event", { hasText: title })).toContainText("09:00 – 10:00");
  await expect(monday.locator(".event", { hasText: title })).toHaveCount(0);

  // The keyboard moves it too: Alt+Down is a quarter of an hour later.
  const moved = wednesday.locator(".event", { hasText: title });
  await moved.focus();
  await page.keyboard.press("Alt+ArrowDown");
  await expect(wednesday.locator(".event", { hasText: title })).toContainText("09:15 – 10:15");
  await wednesday.locator(".event", { hasText: title }).focus();
  await page.keyboard.press("Alt+ArrowUp");
  await expect(wednesday.locator(".event", { hasText: title })).toContainText("09:00 – 10:00");

  // It stays moved after a reload; next week's Monday is untouched.
  await open(page, `/schedule?view=week&date=${MONDAY}`);
  await expect(page.locator(`.day-column[data-date="${WEDNESDAY}"] .event`, { hasText: title })).toBeVisible();
  await open(page, `/schedule?view=week&date=2031-03-10`);
  await expect(page.locator(`.day-column[data-date="2031-03-10"] .event`, { hasText: title })).toBeVisible();

  // A student finds the class, enrols, and sees its three sessions in the month view.
  const studentContext = await browser.newContext();
  const student = await studentContext.newPage();
  await register(student, uniqueName("sam"), "Sam Student");
  await open(student, "/classes");
  await student.getByRole("link", { name: title }).click();
  await expect(student.getByRole("heading", { name: title })).toBeVisible();
  await expect(student.locator("body[data-hydrated]")).toBeAttached();
  await student.getByRole("button", { name: "Enrol" }).click();
  await expect(student.getByText("You are enrolled.")).toBeVisible();

  await open(student, `/schedule?view=month&date=${MONDAY}`);
  await expect(student.getByRole("heading", { name: "March 2031" })).toBeVisible();
  const cell = (date: string) => student.locator(`.month-cell[data-date="${date}"] .chip`, { hasText: title });
  await expect(cell(WEDNESDAY)).toBeVisible();
  await expect(cell("2031-03-10")).toBeVisible();
  await expect(cell("2031-03-17")).toBeVisible();
  await expect(cell(MONDAY)).toHaveCount(0);
  await expect(student.locator(".chip", { hasText: title })).toHaveCount(3);
  await studentContext.close();
});

test("a student sees no scheduling controls and cannot move classes", async ({ page }) => {
  await register(page, uniqueName("linus"), "Linus Student");
  await open(page, `/schedule?view=week&date=${MONDAY}`);
  await expect(page.getByRole("button", { name: "New class" })).toHaveCount(0);
  const res = await page.request.post("/api/classes/move", {
    form: { occurrence_id: "1", start_local: `${MONDAY}T09:00`, duration_minutes: "60" },
  });
  expect([403, 404]).toContain(res.status());
});

test("a teacher re-plans a series from its second session and edits the details", async ({ page }) => {
  const teacher = uniqueName("theo");
  await register(page, teacher, "Theo Teacher");
  await promote(teacher);
  const classId = await scheduleClass(page, {
    title: "Chemistry", time_zone: "Europe/Berlin", start_local: "2031-04-07T09:00",
    recurrence: { frequency: "weekly", interval: 1, weekdays: ["mon"], monthly_by: "day_of_month", end: { count: 4 } },
  });

  await open(page, `/classes/${classId}`);
  await expect(page.getByText("Weekly on Mon, 4 times")).toBeVisible();
  await page.getByRole("button", { name: "Change this and following…" }).nth(1).click();
  const dialog = page.getByRole("dialog", { name: "Change this and following sessions" });
  await expect(dialog.getByLabel("Date")).toHaveValue("2031-04-14");
  await expect(dialog.getByLabel("Times")).toHaveValue("3");
  await dialog.getByLabel("Start").fill("14:00");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toBeHidden();
  const sessions = page.locator(".sessions li");
  await expect(sessions).toHaveCount(4);
  await expect(sessions.nth(0)).toContainText("Mon 7 Apr");
  await expect(sessions.nth(1)).toContainText("Mon 14 Apr, 12:00–13:00"); // 14:00 Berlin is 12:00 UTC (the viewer's zone)
  await expect(sessions.nth(3)).toContainText("Mon 28 Apr, 12:00–13:00");

  await page.getByText("Edit details").click();
  await page.getByLabel("Title", { exact: true }).fill("Chemistry II");
  await page.getByLabel("Capacity").fill("12");
  await page.getByRole("button", { name: "Save details" }).click();
  await expect(page.getByRole("heading", { name: "Chemistry II" })).toBeVisible();
  await expect(page.getByText("0 of 12 places taken")).toBeVisible();
});
