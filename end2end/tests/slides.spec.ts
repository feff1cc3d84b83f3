import { expect, test, type Locator } from "@playwright/test";
import { enterRoom, stroke, teacherAndStudent } from "./helpers";

/**
 * A small PDF made here: one 16:9 page per colour, filled with it, with "Slide N" in Helvetica.
 * The cross-reference table is computed, so it is a well-formed file.
 */
function slidesPdf(colours: [number, number, number][]): Buffer {
  const objects: string[] = [];
  const pageIds = colours.map((_, i) => 4 + i * 2);
  objects[1] = "<< /Type /Catalog /Pages 2 0 R >>";
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(" ")}] /Count ${colours.length} >>`;
  objects[3] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
  colours.forEach(([r, g, b], i) => {
    const content = `${r} ${g} ${b} rg 0 0 960 540 re f 0 0 0 rg BT /F1 48 Tf 60 440 Td (Slide ${i + 1}) Tj ET`;
    objects[pageIds[i]] =
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 960 540] /Resources << /Font << /F1 3 0 R >> >> /Contents ${pageIds[i] + 1} 0 R >>`;
    objects[pageIds[i] + 1] = `<< /Length ${content.length} >>\nstream\n${content}\nendstream`;
  });
  let pdf = "%PDF-1.4\n";
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = pdf.length;
    pdf += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) pdf += `${String(offsets[id]).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

/** The colour of a canvas's pixel at fractions of its size. */
async function colourAt(canvas: Locator, x: number, y: number): Promise<number[]> {
  return canvas.evaluate(
    (c: HTMLCanvasElement, [fx, fy]) =>
      Array.from(c.getContext("2d")!.getImageData(Math.floor(c.width * fx), Math.floor(c.height * fy), 1, 1).data.slice(0, 3)),
    [x, y],
  );
}

/** Pixels that are clearly red (a red stroke over any of the slides' pale colours). */
async function redPixels(canvas: Locator): Promise<number> {
  return canvas.evaluate((c: HTMLCanvasElement) => {
    const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] > 150 && data[i + 1] < 90 && data[i + 2] < 90) n++;
    return n;
  });
}

test("the teacher uploads PDF slides, draws on slide 2, and the student sees it on the slide", async ({ page, browser }) => {
  const { classId, student } = await teacherAndStudent(page, browser, {
    teacher: "Pia Pdf", student: "Sol Slide", title: "Slides class",
  });
  await enterRoom(page, classId);
  await enterRoom(student, classId);
  const teacherCanvas = page.getByTestId("board-canvas");
  const studentCanvas = student.getByTestId("board-canvas");

  // Three pale slides: yellow, blue, green.
  const pdf = slidesPdf([[1, 0.95, 0.7], [0.75, 0.85, 1], [0.8, 1, 0.8]]);
  await page.getByTestId("slides-file").setInputFiles({ name: "Week 3.pdf", mimeType: "application/pdf", buffer: pdf });
  // Progress shows while it renders; then the slides follow page 1 and the first one is shown.
  await expect(page.getByTestId("board-page")).toHaveText("Page 2 of 4", { timeout: 30_000 });
  await expect(page.getByTestId("slides-status")).toHaveCount(0);
  await expect(student.getByTestId("board-page")).toHaveText("Page 2 of 4");

  // Slide 2 (the blue one): the student's board follows, with the slide's picture under it.
  await page.getByRole("button", { name: "Next page" }).click();
  await expect(student.getByTestId("board-page")).toHaveText("Page 3 of 4");
  await expect.poll(() => colourAt(studentCanvas, 0.9, 0.9)).toEqual([191, 217, 255]);
  await expect.poll(() => colourAt(studentCanvas, 0.5, 0.5)).toEqual([191, 217, 255]);

  // The teacher draws a red stroke on it; the student's canvas has it, on the blue slide.
  await page.getByRole("button", { name: "Red", exact: true }).click();
  await stroke(page, teacherCanvas, [0.2, 0.5], [0.8, 0.5]);
  await expect(studentCanvas).toHaveAttribute("data-shapes", "1");
  await expect.poll(() => redPixels(studentCanvas)).toBeGreaterThan(200);
  expect(await colourAt(studentCanvas, 0.9, 0.9)).toEqual([191, 217, 255]);
  await studentCanvas.screenshot({ path: "test-results/slide-2-student.png" });

  // The page as the student sees it saves as a PNG.
  const [png] = await Promise.all([
    student.waitForEvent("download"),
    student.getByRole("button", { name: "Save page as PNG" }).click(),
  ]);
  expect(png.suggestedFilename()).toBe("page-3.png");
  const saved = await png.createReadStream();
  const chunks: Buffer[] = [];
  for await (const chunk of saved) chunks.push(chunk as Buffer);
  expect(Buffer.concat(chunks).subarray(1, 4).toString()).toBe("PNG");

  // The annotated board downloads as one PDF, for the student too.
  const href = await student.getByTestId("board-pdf").getAttribute("href");
  const exported = await student.request.get(href!);
  expect(exported.status()).toBe(200);
  expect(exported.headers()["content-type"]).toBe("application/pdf");
  expect(exported.headers()["content-disposition"]).toContain("attachment");
  expect((await exported.body()).subarray(0, 5).toString()).toBe("%PDF-");

  // A file the teacher shares appears in the student's Files panel and downloads as a file.
  await page.getByTestId("share-file").setInputFiles({
    name: "reading list.txt", mimeType: "text/plain", buffer: Buffer.from("Chapter 4\nChapter 5\n"),
  });
  const link = student.getByTestId("files").getByRole("link", { name: "reading list.txt" });
  await expect(link).toBeVisible();
  const file = await student.request.get((await link.getAttribute("href"))!);
  expect(file.headers()["content-disposition"]).toContain('attachment; filename="reading list.txt"');
  expect(await file.text()).toBe("Chapter 4\nChapter 5\n");
  // Something that is not a PDF is refused as slides, with the reason.
  await page.getByTestId("slides-file").setInputFiles({ name: "notes.pdf", mimeType: "application/pdf", buffer: Buffer.from("just text") });
  await expect(page.getByTestId("slides-status")).toContainText("not a PDF");
  // Withdrawn, it leaves the student's list.
  await page.getByTestId("files").getByRole("button", { name: "Stop sharing" }).click();
  await expect(link).toHaveCount(0);
});
