import { expect, test, type Page } from "@playwright/test";
import { enterRoom, teacherAndStudent } from "../tests/helpers";

// How the whiteboard keeps up with a full page: STROKES pen strokes of POINTS points each on
// one page, then (1) the cost of redrawing every drawing (the settled layer, redrawn on a zoom
// or a page turn), and (2) frames while the teacher draws over them and while a viewer watches.
// Prints one JSON line per measurement. Run by bench/board.sh.
const STROKES = Number(process.env.BOARD_STROKES ?? 5000);
const POINTS = Number(process.env.BOARD_POINTS ?? 20);

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** Send the strokes over a second socket of the teacher's, as fast as the server takes them. */
async function fillBoard(page: Page, classId: number) {
  await page.evaluate(
    async ({ classId, strokes, points }) => {
      const ws = new WebSocket(`ws://${location.host}/classes/${classId}/live/ws`);
      await new Promise((resolve) => (ws.onopen = resolve));
      ws.send(JSON.stringify({ type: "hello", protocol: 1 }));
      let acked = 0;
      const done = new Promise<void>((resolve) => {
        ws.onmessage = (e) => {
          if (JSON.parse(e.data).type === "ack" && ++acked === strokes) resolve();
        };
      });
      let seed = 7;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      for (let i = 0; i < strokes; i++) {
        let [x, y] = [100 + random() * 1400, 100 + random() * 700];
        const line = [];
        for (let p = 0; p < points; p++) {
          x += (random() - 0.5) * 30;
          y += (random() - 0.5) * 30;
          line.push([x, y, 0.5]);
        }
        const shape = { id: `bench-s${i}`, color: ["#1d4ed8", "#d62828", "#15803d"][i % 3], width: 3, tool: "pen", points: line };
        ws.send(JSON.stringify({ ref: i + 1, type: "board", op: { id: `bench-${i}`, action: "draw", page: 1, shape } }));
      }
      await done;
      ws.close();
    },
    { classId, strokes: STROKES, points: POINTS },
  );
}

/** Record requestAnimationFrame intervals and the canvas's frame costs while `act` runs. */
async function frames(page: Page, act: () => Promise<void>) {
  await page.evaluate(() => {
    const w = window as any;
    w.__frames = [];
    w.__costs = [];
    w.__recording = true;
    const canvas = document.querySelector("[data-testid=board-canvas]")!;
    w.__observer = new MutationObserver(() => w.__costs.push(Number(canvas.getAttribute("data-frame-ms"))));
    w.__observer.observe(canvas, { attributes: true, attributeFilter: ["data-frame-ms"] });
    const tick = (t: number) => {
      w.__frames.push(t);
      if (w.__recording) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const started = Date.now();
  await act();
  const seconds = (Date.now() - started) / 1000;
  const { stamps, costs } = await page.evaluate(() => {
    const w = window as any;
    w.__recording = false;
    w.__observer.disconnect();
    return { stamps: w.__frames as number[], costs: w.__costs as number[] };
  });
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]);
  return {
    seconds: Number(seconds.toFixed(2)),
    fps: Number((gaps.length / (gaps.reduce((a, b) => a + b, 0) / 1000)).toFixed(1)),
    frame_gap_p50_ms: Number(median(gaps).toFixed(1)),
    frame_gap_p95_ms: Number(percentile(gaps, 0.95).toFixed(1)),
    frame_gap_max_ms: Number(Math.max(...gaps).toFixed(1)),
    repaints: costs.length,
    repaint_p50_ms: Number(median(costs).toFixed(2)),
    repaint_p95_ms: Number(percentile(costs, 0.95).toFixed(2)),
  };
}

test("a page with thousands of strokes stays smooth", async ({ page, browser }) => {
  const { classId, student } = await teacherAndStudent(page, browser, {
    teacher: "Fran Fps", student: "Vic Viewer", title: "Full board",
  });
  await page.setViewportSize({ width: 1280, height: 900 });
  await student.setViewportSize({ width: 1280, height: 900 });
  await enterRoom(page, classId);
  await enterRoom(student, classId);
  const teacherCanvas = page.getByTestId("board-canvas");
  const studentCanvas = student.getByTestId("board-canvas");
  await teacherCanvas.scrollIntoViewIfNeeded();
  await studentCanvas.scrollIntoViewIfNeeded();

  const filling = Date.now();
  await fillBoard(page, classId);
  await expect(studentCanvas).toHaveAttribute("data-shapes", String(STROKES), { timeout: 120_000 });
  const filled = (Date.now() - filling) / 1000;
  console.log(JSON.stringify({ measure: "fill", strokes: STROKES, points: POINTS, seconds: filled }));

  // (1) Redrawing every drawing: zoom in and out on the teacher's page, ten times.
  const layers: number[] = [];
  for (let i = 0; i < 10; i++) {
    await page.getByRole("button", { name: i % 2 === 0 ? "Zoom in" : "Zoom out", exact: true }).click();
    await page.waitForTimeout(250);
    layers.push(Number(await teacherCanvas.getAttribute("data-layer-ms")));
  }
  console.log(JSON.stringify({ measure: "redraw every drawing", layer_p50_ms: median(layers), layer_max_ms: Math.max(...layers) }));

  // (2) The teacher draws a long stroke over them: pointer moves as fast as the browser sends them.
  const box = (await teacherCanvas.boundingBox())!;
  const drawing = await frames(page, async () => {
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.5);
    await page.mouse.down();
    for (let i = 0; i <= 240; i++) {
      const t = i / 240;
      await page.mouse.move(box.x + box.width * (0.1 + 0.8 * t), box.y + box.height * (0.5 + 0.3 * Math.sin(t * 12)));
    }
    await page.mouse.up();
  });
  console.log(JSON.stringify({ measure: "teacher drawing over the page", ...drawing }));

  // (3) A viewer while the teacher's laser moves and strokes arrive.
  const watching = await frames(student, async () => {
    for (let i = 0; i < 10; i++) {
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * (0.2 + i * 0.05), { steps: 10 });
      await page.mouse.up();
    }
    await expect(studentCanvas).toHaveAttribute("data-shapes", String(STROKES + 11));
  });
  console.log(JSON.stringify({ measure: "viewer receiving strokes", ...watching }));

});
