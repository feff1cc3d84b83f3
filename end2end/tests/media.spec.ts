import { expect, test, type Page } from "@playwright/test";
import { enterRoom, expectMovingPictures, keepSockets, teacherAndStudent } from "./helpers";

// Chromium runs with a fake camera (a moving test pattern) and a fake microphone (a beep), and
// grants them without asking: see the launch arguments in playwright.config.ts.

/** Choose devices with a live preview, then publish them. */
async function startCameraAndMicrophone(page: Page) {
  await page.getByRole("button", { name: "Set up camera and microphone" }).click();
  await expect(page.getByLabel("Camera", { exact: true })).toBeVisible();
  await expect(page.getByLabel("Microphone", { exact: true })).toBeVisible();
  await expectMovingPictures(page.locator('video[data-local="preview"]'));
  await page.getByRole("button", { name: "Start camera and microphone" }).click();
  await expect(page.getByRole("button", { name: "Mute microphone" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Turn camera off" })).toBeVisible();
}

test("a student watches the teacher's camera", async ({ page, browser }) => {
  const { classId, student, studentContext } = await teacherAndStudent(page, browser, {
    teacher: "Vera Teacher", student: "Walt Student", title: "Live optics",
  });
  await enterRoom(page, classId);
  await enterRoom(student, classId);
  await expect(page.getByTestId("media-status")).toContainText(/Connection|connected/);

  await startCameraAndMicrophone(page);
  // The teacher sees themselves, mirrored; the student sees the teacher on the stage.
  await expectMovingPictures(page.locator('video[data-local="camera"]'));
  const teacherVideo = student.locator('video[data-user-name="Vera Teacher"][data-source="camera"]');
  await expect(student.locator(".media-stage")).toContainText("Vera Teacher");
  await expectMovingPictures(teacherVideo);
  // A student only watches: nothing to publish until invited.
  await expect(student.getByRole("button", { name: "Set up camera and microphone" })).toHaveCount(0);

  // Audio only: the student stops receiving video; switching back brings it back.
  await student.getByRole("button", { name: "Audio only" }).click();
  await expect(teacherVideo).toHaveCount(0);
  await expect(student.locator(".media-stage")).toContainText("Audio only");
  await student.getByRole("button", { name: "Audio only" }).click();
  await expectMovingPictures(teacherVideo);
  await studentContext.close();
});

test("a teacher invites a student with a raised hand to speak and sees their camera", async ({ page, browser }) => {
  const { classId, student, studentContext } = await teacherAndStudent(page, browser, {
    teacher: "Yara Teacher", student: "Zeno Student", title: "Live debate",
  });
  await enterRoom(page, classId);
  await enterRoom(student, classId);

  await student.getByRole("button", { name: "Raise hand" }).click();
  const row = page.getByTestId("participants").locator(".participant", { hasText: "Zeno Student" });
  await expect(row.getByLabel("Hand raised, number 1")).toBeVisible();
  await row.getByRole("button", { name: "Invite to speak" }).click();

  await expect(student.getByText("A teacher invited you to speak.")).toBeVisible();
  await startCameraAndMicrophone(student);
  const studentVideo = page.locator('video[data-user-name="Zeno Student"][data-source="camera"]');
  await expectMovingPictures(studentVideo);

  // The teacher stops them: their camera goes from the teacher's page, and the student's
  // controls go back to watching.
  await row.getByRole("button", { name: "Stop speaking" }).click();
  await expect(studentVideo).toHaveCount(0);
  await expect(student.getByRole("button", { name: "Mute microphone" })).toHaveCount(0);
  await expect(row.getByRole("button", { name: "Invite to speak" })).toBeVisible();
  await studentContext.close();
});

test("after the room connection drops and comes back, media goes on and follows new tracks", async ({ page, browser }) => {
  const { classId, student, studentContext } = await teacherAndStudent(page, browser, {
    teacher: "Quinn Teacher", student: "Remy Student", title: "Live resilience",
  });
  // Keep the student's WebSockets within reach of the test.
  await keepSockets(studentContext);
  await enterRoom(page, classId);
  await enterRoom(student, classId);
  await startCameraAndMicrophone(page);
  const teacherVideo = student.locator('video[data-user-name="Quinn Teacher"][data-source="camera"]');
  await expectMovingPictures(teacherVideo);

  // The student's room connection drops; the page reconnects, offers again on the same media
  // session and sends its view again.
  await student.evaluate(() => { for (const socket of (window as any).__sockets) socket.close(); });
  await expect(student.getByTestId("room-status")).toContainText("Reconnecting");
  await expect(student.getByTestId("room-status")).toHaveText("Live", { timeout: 30_000 });
  await expectMovingPictures(teacherVideo);

  // The teacher turns the camera off and on: a new track, which the student's page asks for
  // over the new connection.
  await page.getByRole("button", { name: "Turn camera off" }).click();
  await expect(teacherVideo).toHaveCount(0);
  await page.getByRole("button", { name: "Turn camera on" }).click();
  await expectMovingPictures(teacherVideo);
  await expect(student.locator(".room-notice")).toHaveCount(0);
  await studentContext.close();
});

test("a teacher's screen share takes the student's stage, with the camera beside it", async ({ page, browser }) => {
  const { classId, student, studentContext } = await teacherAndStudent(page, browser, {
    teacher: "Sana Teacher", student: "Theo Student", title: "Live slides",
  });
  await enterRoom(page, classId);
  await enterRoom(student, classId);
  await startCameraAndMicrophone(page);
  const camera = student.locator('video[data-user-name="Sana Teacher"][data-source="camera"]');
  await expectMovingPictures(camera);

  // Headless Chromium with the fake media flags captures a fake screen without asking.
  await page.getByRole("button", { name: "Share screen" }).click();
  await expect(page.getByRole("button", { name: "Stop sharing" })).toBeVisible();
  const screen = student.locator('.media-stage video[data-user-name="Sana Teacher"][data-source="screen"]');
  await expectMovingPictures(screen);
  await expect(student.locator(".media-stage")).toContainText("Sana Teacher's screen");
  // The camera moves to a tile and keeps moving.
  await expectMovingPictures(student.locator('.media-tiles video[data-user-name="Sana Teacher"][data-source="camera"]'));

  await page.getByRole("button", { name: "Stop sharing" }).click();
  await expect(student.locator('video[data-source="screen"]')).toHaveCount(0);
  await expectMovingPictures(student.locator('.media-stage video[data-user-name="Sana Teacher"][data-source="camera"]'));
  await studentContext.close();
});
