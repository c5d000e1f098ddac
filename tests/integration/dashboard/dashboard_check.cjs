// Drives the HeliosGrid dashboard in headless Chromium (playwright-core) for
// tests/integration/dashboard/test_dashboard_browser.py. Protocol on stdio (JSON lines):
//   -> {"event":"loaded", ...}   python then inserts a reading and answers "inserted\n"
//   -> {"event":"live", ...} -> {"event":"acknowledged", ...} -> {"event":"history", ...} -> {"event":"done"}
// Any failure: {"event":"error","message":...} and exit status 1. Screenshots go to argv[4].
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { say, withDashboard } = require("./browser_session.cjs");

const [base, key, outDir, alertId, liveDevice, liveKw] = process.argv.slice(2);
const rl = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => rl.once("line", resolve));
const urls = [];

fs.mkdirSync(outDir, { recursive: true });
const setup = async (page, errors) => {
  page.on("request", (r) => urls.push(r.url().split("#")[0]));  // a fragment never leaves the browser
  page.on("console", (m) => { if (/Content.Security.Policy/i.test(m.text())) errors.push(`CSP: ${m.text()}`); });
};

withDashboard({ base, key, setup, cleanup: () => rl.close() }, async (page) => {
  if (page.url().includes("key=")) throw new Error("the key was left in the address bar");
  const stored = await page.evaluate(() => localStorage.getItem("heliosgrid.apiKey"));
  if (stored !== key) throw new Error("the key was not stored in localStorage");
  const cards = await page.$$eval("#sites .card", (els) => els.map((e) => e.dataset.siteId));
  const current = await page.textContent("#site-alpha [data-field=current-kw]");
  const forecast = await page.textContent("#site-alpha [data-field=forecast]");
  const points = await page.$eval("#power-chart svg polyline.actual", (el) => el.getAttribute("points").trim().split(/\s+/).length);
  const band = await page.$$eval("#power-chart svg polygon.forecast-band", (els) => els.length);
  await page.waitForSelector("#live-status.on");
  if (urls.some((u) => u.includes(key) || u.includes(encodeURIComponent(key)))) throw new Error("the API key was sent in a URL");
  if (!urls.some((u) => u.includes("/v1/stream?token=hgst_"))) throw new Error("the stream was not opened with a stream token");
  await page.screenshot({ path: path.join(outDir, "dashboard-loaded.png"), fullPage: true });
  say({ event: "loaded", cards, current, forecast, points, band });

  await nextLine(); // python inserted a reading
  const want = Number(liveKw).toFixed(2);
  await page.waitForFunction(
    ([dev, kw]) => [...document.querySelectorAll("#live-feed li")].some((li) => li.dataset.deviceId === dev && li.textContent.includes(kw)),
    [liveDevice, want]
  );
  const site = liveDevice.split("-")[0];
  const liveCard = await page.textContent(`#site-${site} [data-field=current-kw]`);
  await page.screenshot({ path: path.join(outDir, "dashboard-live.png"), fullPage: true });
  say({ event: "live", card: liveCard });

  await page.click(`#alert-${alertId} button.ack`);
  await page.waitForFunction((id) => {
    const cell = document.querySelector(`#alert-${id} .state`);
    return cell && cell.textContent.startsWith("acknowledged");
  }, alertId);
  await page.screenshot({ path: path.join(outDir, "dashboard-acknowledged.png"), fullPage: true });
  say({ event: "acknowledged", state: await page.textContent(`#alert-${alertId} .state`) });

  await page.click("#tab-history");
  await page.waitForSelector("#history-chart svg rect.energy");
  const bars = await page.$$eval("#history-chart svg rect.energy", (els) => els.length);
  const kpiRows = await page.$$eval("#kpi-table tbody tr", (els) => els.length);
  await page.screenshot({ path: path.join(outDir, "dashboard-history.png"), fullPage: true });
  say({ event: "history", bars, kpiRows });
});
