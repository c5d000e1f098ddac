// Drives the dashboard's Performance and Data quality views in headless Chromium (playwright-core)
// for tests/integration/dashboard/test_dashboard_insights_browser.py. Prints one JSON line:
//   {"event":"performance",...} then {"event":"quality",...} then {"event":"done"};
// on failure {"event":"error","message":...} and exit status 1. Screenshots go to argv[4].
const fs = require("fs");
const path = require("path");
const { say, withDashboard } = require("./browser_session.cjs");

const [base, key, outDir] = process.argv.slice(2);
const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));

fs.mkdirSync(outDir, { recursive: true });
withDashboard({ base, key }, async (page) => {
  await page.click("#tab-performance");
  await page.waitForSelector("#performance-view[data-ready=true]");
  const perf = {
    event: "performance",
    visible: await page.isVisible("#performance-view"),
    operatorHidden: await page.isHidden("#operator-view"),
    sites: await page.$$eval("#perf-sites tbody tr", (els) => els.map((e) => e.dataset.siteId)),
    siteCells: await texts(page, "#perf-sites tbody tr:first-child td"),
    causes: await page.$$eval("#perf-causes tbody tr", (els) => els.map((e) => e.dataset.faultType)),
    prPoints: await page.$$eval("#perf-ratio-chart svg circle.pr-dot", (els) => els.length),
    yieldBars: await page.$$eval("#perf-yield-chart svg rect.yield", (els) => els.length),
  };
  await page.screenshot({ path: path.join(outDir, "dashboard-performance.png"), fullPage: true });
  say(perf);

  await page.click("#tab-quality");
  await page.waitForSelector("#quality-view[data-ready=true]");
  const quality = {
    event: "quality",
    performanceHidden: await page.isHidden("#performance-view"),
    freshness: await page.$$eval("#dq-freshness tbody tr", (els) => els.map((e) => e.dataset.siteId)),
    freshAge: await texts(page, "#dq-freshness tbody tr td:last-child"),
    checks: await page.$$eval("#dq-checks tbody tr", (els) => els.map((e) => [e.dataset.check, e.querySelector("td:last-child").textContent.trim()])),
    sites: await page.$$eval("#dq-sites tbody tr", (els) => els.map((e) => e.dataset.siteId)),
  };
  await page.screenshot({ path: path.join(outDir, "dashboard-quality.png"), fullPage: true });
  say(quality);
});
