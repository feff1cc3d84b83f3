import { expect, test } from "@playwright/test";
import { enterRoom, keepSockets, open, promote, register, scheduleClass, teacherAndStudent, thisMinuteUtc, uniqueName } from "./helpers";

/** This minute in UTC as `YYYY-MM-DDTHH:MM`: a class that starts now is live now. */
test("a teacher and a student chat, run a poll and both see the results", async ({ page, browser }) => {
  const { classId, student, studentContext } = await teacherAndStudent(page, browser, {
    teacher: "Tia Teacher", student: "Sam Student", title: "Live algebra",
  });

  await enterRoom(page, classId);
  await enterRoom(student, classId);
  await expect(page.getByRole("heading", { name: "Live algebra" })).toBeVisible();
  await expect(page.getByTestId("participants")).toContainText("Sam Student");
  await expect(student.getByTestId("participants")).toContainText("Tia Teacher");

  // Chat both ways; a link is a plain link and markup stays text.
  await student.getByLabel("Message", { exact: true }).fill("Hello <b>Tia</b>, see https://example.org/notes");
  await student.getByLabel("Message", { exact: true }).press("Enter");
  const line = page.getByTestId("chat").locator(".chat-message", { hasText: "Hello <b>Tia</b>" });
  await expect(line).toBeVisible();
  await expect(line.getByRole("link", { name: "https://example.org/notes" })).toHaveAttribute("href", "https://example.org/notes");
  await expect(line.locator("b")).toHaveCount(0);
  await page.getByLabel("Message", { exact: true }).fill("Welcome, Sam!");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(student.getByTestId("chat")).toContainText("Welcome, Sam!");

  // The student reports a message, and the teacher sees the report; the teacher deletes a
  // message, and it goes from the student's page.
  const welcomeLine = student.getByTestId("chat").locator(".chat-message", { hasText: "Welcome, Sam!" });
  await welcomeLine.getByRole("button", { name: "Report" }).click();
  await welcomeLine.getByLabel("Why are you reporting this message?").fill("Testing reports");
  await welcomeLine.getByRole("button", { name: "Send report" }).click();
  await expect(page.getByTestId("reports")).toContainText("Reported by Sam Student: Testing reports");
  await line.getByRole("button", { name: "Delete" }).click();
  await expect(student.getByTestId("chat")).not.toContainText("Hello <b>Tia</b>");

  // A raised hand reaches the teacher.
  await student.getByRole("button", { name: "Raise hand" }).click();
  await expect(page.getByTestId("participants").getByLabel("Hand raised, number 1")).toBeVisible();

  // A poll: the teacher asks, the student votes, the teacher watches the count, then closes it.
  await page.getByRole("button", { name: "New poll" }).click();
  await page.getByLabel("Question").fill("Which topic next?");
  await page.getByLabel("Options, one per line").fill("Matrices\nVectors\nLimits");
  await page.getByRole("button", { name: "Start poll" }).click();
  const studentPoll = student.getByTestId("polls").locator(".poll", { hasText: "Which topic next?" });
  await expect(studentPoll).toBeVisible();
  await studentPoll.getByLabel("Vectors").check();
  await studentPoll.getByRole("button", { name: "Vote" }).click();
  await expect(studentPoll.getByText("Your vote: Vectors")).toBeVisible();
  const teacherPoll = page.getByTestId("polls").locator(".poll", { hasText: "Which topic next?" });
  await expect(teacherPoll.getByTestId("poll-results")).toContainText("1 vote");
  await teacherPoll.getByRole("button", { name: "Close poll and show results" }).click();

  for (const poll of [teacherPoll, studentPoll]) {
    await expect(poll).toContainText("closed");
    const vectors = poll.locator(".poll-bar", { hasText: "Vectors" });
    await expect(vectors).toContainText("1 (100%)");
    await expect(poll.locator(".poll-bar", { hasText: "Matrices" })).toContainText("0 (0%)");
  }
  await studentContext.close();
});

test("the room page reconnects and catches up after the connection drops", async ({ page, browser }) => {
  // Keep the student page's WebSockets within reach of the test, and let it send new ones to a
  // dead port.
  const { classId, student, studentContext } = await teacherAndStudent(
    page, browser, { teacher: "Rex Teacher", student: "Una Student", title: "Resume test" },
    keepSockets,
  );

  await enterRoom(page, classId);
  await enterRoom(student, classId);
  await page.getByLabel("Message", { exact: true }).fill("before the drop");
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await expect(student.getByTestId("chat")).toContainText("before the drop");

  // The student's connection drops and cannot come back for a while (new sockets are sent to a
  // closed port): the page says it is reconnecting. Meanwhile the teacher keeps talking.
  await student.evaluate(() => {
    const w = window as any;
    w.__blockSockets = true;
    for (const socket of w.__sockets) socket.close();
  });
  await expect(student.getByTestId("room-status")).toContainText("Reconnecting");
  await page.getByLabel("Message", { exact: true }).fill("while you were away");
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await expect(page.getByTestId("chat")).toContainText("while you were away");

  // The network is back: the next attempt resumes and shows what was missed, exactly once.
  await student.evaluate(() => { (window as any).__blockSockets = false; });
  await expect(student.getByTestId("room-status")).toHaveText("Live", { timeout: 30_000 });
  const chat = student.getByTestId("chat");
  await expect(chat).toContainText("while you were away");
  await expect(chat.locator(".chat-message", { hasText: "before the drop" })).toHaveCount(1);
  await expect(chat.locator(".chat-message", { hasText: "while you were away" })).toHaveCount(1);
  await studentContext.close();
});

test("a teacher adds a co-teacher on the class page, who then runs the room alongside", async ({ page, browser }) => {
  const teacherLogin = uniqueName("ivy");
  await register(page, teacherLogin, "Ivy Teacher");
  await promote(teacherLogin);
  const classId = await scheduleClass(page, { title: "Team taught", time_zone: "UTC", start_local: thisMinuteUtc() });

  const coContext = await browser.newContext();
  const co = await coContext.newPage();
  const coLogin = uniqueName("cole");
  await register(co, coLogin, "Cole Coteacher");

  // Only teachers can co-teach: a student account is refused with a reason.
  await open(page, `/classes/${classId}`);
  const add = page.getByPlaceholder("Add a co-teacher by username or email");
  await add.fill(coLogin);
  await page.getByRole("button", { name: "Add co-teacher" }).click();
  await expect(page.getByRole("alert")).toContainText("is a student");
  await promote(coLogin);
  await add.fill(coLogin);
  await page.getByRole("button", { name: "Add co-teacher" }).click();
  await expect(page.getByTestId("roster")).toContainText("Cole Coteacher");
  await expect(page.getByTestId("roster")).toContainText("Co-teacher");

  await enterRoom(co, classId);
  await expect(co.getByRole("button", { name: "Lock chat" })).toBeVisible();
  await expect(co.getByRole("button", { name: "New poll" })).toBeVisible();
  await expect(co.getByTestId("participants").locator(".participant", { hasText: "Cole Coteacher" })).toContainText("Co-teacher");
  await coContext.close();
});
