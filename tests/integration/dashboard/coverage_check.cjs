// Drives the dashboard's "Detector coverage" panel (Data quality view) in headless Chromium for
// tests/integration/dashboard/test_dashboard_coverage_browser.py. Prints one JSON line
// {"event":"coverage",...} then {"event":"done"}; on failure {"event":"error",...} and exit 1.
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [base, key] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "helios-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1400, height: 1000 },
  });
  const errors = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    page.setDefaultTimeout(20000);
    await page.goto(`${base}/#key=${encodeURIComponent(key)}`);
    await page.waitForSelector("body[data-ready=true]");
    await page.click("#tab-quality");
    await page.waitForSelector("#dq-coverage-panel[data-ready=true]");
    say({
      event: "coverage",
      visible: await page.isVisible("#dq-coverage-panel"),
      sites: await page.$$eval("#dq-coverage tbody tr", (els) => els.map((e) => [e.dataset.siteId, e.dataset.missing])),
      items: await page.$$eval("#dq-coverage tbody li[data-detector]", (els) => els.map((e) => [e.dataset.deviceId, e.dataset.detector, e.textContent.replace(/\s+/g, " ").trim()])),
      allGood: await page.$$eval("#dq-coverage tbody tr[data-missing='0'] li", (els) => els.map((e) => e.textContent.trim())),
      emptyHidden: await page.isHidden("#dq-coverage-empty"),
    });
    if (errors.length) throw new Error("page errors: " + errors.join("; "));
    say({ event: "done" });
  } catch (e) {
    say({ event: "error", message: String(e && e.stack ? e.stack : e), pageErrors: errors });
    process.exitCode = 1;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})();
