// One headless Chromium session on the dashboard, shared by the *_check.cjs browser checks.
// Protocol on stdout (JSON lines): the check's own events, then {"event":"done"}; on any failure
// {"event":"error","message":...,"pageErrors":[...]} and exit status 1. Page errors fail the check.
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// Opens `${base}/#key=…`, waits until the dashboard is ready and runs `body(page, errors)`.
// `setup(page, errors)` runs before the first navigation (listeners); `cleanup()` after the browser closed.
async function withDashboard({ base, key, setup = async () => {}, cleanup = () => {} }, body) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "helios-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 1000 },
  });
  const errors = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    page.setDefaultTimeout(20000);
    await setup(page, errors);
    await page.goto(`${base}/#key=${encodeURIComponent(key)}`);
    await page.waitForSelector("body[data-ready=true]");
    await body(page, errors);
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    say({ event: "done" });
  } catch (e) {
    say({ event: "error", message: String(e && e.stack ? e.stack : e), pageErrors: errors });
    process.exitCode = 1;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
    cleanup();
  }
}

module.exports = { say, withDashboard };
