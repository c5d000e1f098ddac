/* HeliosGrid dashboard — "Data quality" view (the Power BI report's Data quality page):
 * per-site freshness (newest measurement and ingestion, age) and data-quality check pass rates
 * per check and per site over the last N hours. Data: GET /v1/insights/quality?hours=N. */
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const { pct, esc, age, time, meters } = window.HeliosFormat;
  const STALE_S = 300;

  function rateRows(rows, key, attr) {
    return rows.map((r) => `<tr data-${attr}="${esc(r[key])}"><td>${esc(r[key])}</td><td>${r.runs}</td>
      <td class="${r.pass_rate < 0.95 ? "fresh-stale" : "fresh-ok"}"><span class="meter"><span data-width="${(100 * (r.pass_rate || 0)).toFixed(1)}"></span></span>
      ${pct(r.pass_rate)}</td></tr>`).join("");
  }

  function render(data) {
    $("#dq-freshness tbody").innerHTML = data.freshness.map((f) => `<tr data-site-id="${esc(f.site_id)}"><td>${esc(f.site_id)}</td>
      <td>${time(f.last_reading_ts)}</td><td>${time(f.last_ingested_at)}</td>
      <td class="${f.age_s !== null && f.age_s <= STALE_S ? "fresh-ok" : "fresh-stale"}">${age(f.age_s)}</td></tr>`).join("");
    $("#dq-checks tbody").innerHTML = rateRows(data.checks, "check_name", "check");
    $("#dq-sites tbody").innerHTML = rateRows(data.sites, "site_id", "site-id");
    meters($("#dq-checks"));
    meters($("#dq-sites"));
    $("#dq-empty").hidden = data.checks.length > 0;
  }

  window.HeliosView({ name: "quality", label: "Data quality", input: "#dq-hours", button: "#dq-load",
                      url: (hours) => `/v1/insights/quality?hours=${hours}`, render });
})();
