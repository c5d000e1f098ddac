// Drives the dashboard's "Detector coverage" panel (Data quality view) in headless Chromium for
// tests/integration/dashboard/test_dashboard_coverage_browser.py. Prints one JSON line
// {"event":"coverage",...} then {"event":"done"}; on failure {"event":"error",...} and exit 1.
const { say, withDashboard } = require("./browser_session.cjs");

const [base, key] = process.argv.slice(2);

withDashboard({ base, key }, async (page) => {
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
});
