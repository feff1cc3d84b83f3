import { expect, test, type Locator } from "@playwright/test";
import { enterRoom, stroke, teacherAndStudent } from "./helpers";

/** Pixels on a canvas that are not white: ink. */
async function inked(canvas: Locator): Promise<number> {
  return canvas.evaluate((c: HTMLCanvasElement) => {
    const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) n++;
    return n;
  });
}

/** The leftmost column of a canvas with ink in it, as a fraction of its width. */
async function inkLeft(canvas: Locator): Promise<number> {
  return canvas.evaluate((c: HTMLCanvasElement) => {
    const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let left = c.width;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) left = Math.min(left, (i / 4) % c.width);
    }
    return left / c.width;
  });
}

test("the teacher draws on page 2, the student follows and sees it, then draws when allowed", async ({ page, browser }) => {
  const { classId, student } = await teacherAndStudent(page, browser, {
    teacher: "Bea Board", student: "Stu Dent", title: "Board class",
  });
  await enterRoom(page, classId);
  await enterRoom(student, classId);
  const teacherCanvas = page.getByTestId("board-canvas");
  const studentCanvas = student.getByTestId("board-canvas");
  await expect(student.getByTestId("board-page")).toHaveText("Page 1 of 1");

  // A second page, and the presenter moves to it: the student's board follows.
  await page.getByRole("button", { name: "Add a blank page" }).click();
  await expect(page.getByTestId("board-page")).toHaveText("Page 1 of 2");
  await page.getByRole("button", { name: "Next page" }).click();
  await expect(student.getByTestId("board-page")).toHaveText("Page 2 of 2");
  await expect(studentCanvas).toHaveAttribute("data-page", "2");

  // The teacher draws a red stroke; the student's canvas shows it.
  await page.getByRole("button", { name: "Red", exact: true }).click();
  await stroke(page, teacherCanvas, [0.2, 0.3], [0.6, 0.7]);
  await expect(studentCanvas).toHaveAttribute("data-shapes", "1");
  await expect.poll(() => inked(studentCanvas)).toBeGreaterThan(200);

  // The student may not draw until the teacher lets them.
  await expect(student.getByText("The teacher is presenting.")).toBeVisible();
  await page.getByTestId("board-access").selectOption({ label: "Stu Dent" });
  await expect(student.getByRole("button", { name: "Pen", exact: true })).toBeVisible();
  await expect(page.getByTestId("board-access").locator("option:checked")).toHaveText("Stu Dent");
  await stroke(student, studentCanvas, [0.7, 0.2], [0.9, 0.4]);
  await expect(teacherCanvas).toHaveAttribute("data-shapes", "2");

  // The student's undo takes back their own stroke only.
  await student.getByRole("button", { name: "Undo", exact: true }).click();
  await expect(teacherCanvas).toHaveAttribute("data-shapes", "1");

  // A late joiner (the student reloading) sees the board as it is, on the presenter's page.
  await student.reload();
  await expect(student.getByTestId("room-status")).toHaveText(/Live/);
  await expect(studentCanvas).toHaveAttribute("data-page", "2");
  await expect(studentCanvas).toHaveAttribute("data-shapes", "1");
  await expect.poll(() => inked(studentCanvas)).toBeGreaterThan(200);

  // Taking the pen back: the student's tools go away.
  await page.getByTestId("board-access").selectOption({ label: "Teachers only" });
  await expect(student.getByText("The teacher is presenting.")).toBeVisible();

  // The teacher selects the stroke and drags it right; the student sees it move. Then deletes it.
  expect(await inkLeft(studentCanvas)).toBeLessThan(0.25);
  await page.getByRole("button", { name: "Select", exact: true }).click();
  await stroke(page, teacherCanvas, [0.4, 0.5], [0.7, 0.5]);
  await expect.poll(() => inkLeft(studentCanvas)).toBeGreaterThan(0.4);
  await expect(studentCanvas).toHaveAttribute("data-shapes", "1");
  await page.getByRole("button", { name: "Delete selected" }).click();
  await expect(studentCanvas).toHaveAttribute("data-shapes", "0");
  await expect.poll(() => inked(studentCanvas)).toBe(0);

  // Zoomed in on the middle (125%), the teacher's stroke lands where it shows on their screen:
  // a tenth of the way across the zoomed view is 18% across the page. The student's view is
  // their own and stays whole.
  await page.getByRole("button", { name: "Pen", exact: true }).click();
  await page.getByRole("button", { name: "Zoom in", exact: true }).click();
  await expect(page.getByTestId("board-zoom")).toHaveText("125%");
  await expect(student.getByTestId("board-zoom")).toHaveText("100%");
  await stroke(page, teacherCanvas, [0.1, 0.5], [0.3, 0.5]);
  await expect(studentCanvas).toHaveAttribute("data-shapes", "1");
  await expect.poll(() => inkLeft(studentCanvas)).toBeGreaterThan(0.16);
  expect(await inkLeft(studentCanvas)).toBeLessThan(0.2);
  // The student, who may not draw, drags their own zoomed view with the pointer.
  await student.getByRole("button", { name: "Zoom in", exact: true }).click();
  const before = await inkLeft(studentCanvas);
  await stroke(student, studentCanvas, [0.5, 0.5], [0.7, 0.5]);
  await expect.poll(() => inkLeft(studentCanvas)).toBeGreaterThan(before + 0.05);
  await student.getByRole("button", { name: "Fit page" }).click();
  await expect(student.getByTestId("board-zoom")).toHaveText("100%");
});
