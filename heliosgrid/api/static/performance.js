/* HeliosGrid dashboard — "Performance" view (the Power BI report's Performance page):
 * fleet performance ratio and availability per site-local day, specific yield per day,
 * the same per site, and lost energy by cause. Data: GET /v1/insights/performance?days=N
 * (materialised KPI days and alerts). Units: kWh, kWh/kWp, ratios shown as %. */
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const { fmt, pct, esc, meters } = window.HeliosFormat;
  const day = (d) => new Date(d + "T00:00:00Z");

  function render(data, days) {
    const end = Date.now(), start = end - days * 86400e3;
    HeliosCharts.draw($("#perf-ratio-chart"), { yLabel: "%", title: "fleet PR and availability", xMin: start, xMax: end,
      series: [
        { kind: "line", cls: "pr", color: "#f5b301", dots: true, points: data.daily.map((r) => [day(r.day), r.performance_ratio === null ? null : 100 * r.performance_ratio]) },
        { kind: "line", cls: "availability", color: "#3fb950", dots: true, points: data.daily.map((r) => [day(r.day), r.availability === null ? null : 100 * r.availability]) }] });
    HeliosCharts.draw($("#perf-yield-chart"), { yLabel: "kWh/kWp", title: "fleet specific yield", xMin: start, xMax: end,
      series: [{ kind: "bars", cls: "yield", color: "#58a6ff", barMs: 86400e3,
                 points: data.daily.map((r) => [day(r.day), r.specific_yield_kwh_kwp]) }] });
    $("#perf-sites tbody").innerHTML = data.sites.map((s) => `<tr data-site-id="${esc(s.site_id)}"><td>${esc(s.site_name)}</td>
      <td>${fmt(s.energy_kwh, 0)}</td><td>${fmt(s.specific_yield_kwh_kwp, 2)}</td><td>${pct(s.performance_ratio)}</td>
      <td>${pct(s.availability)}</td><td>${fmt(s.lost_energy_kwh, 0)}</td><td>${fmt(s.revenue_lost, 2)}</td></tr>`).join("");
    const maxLost = Math.max(1e-9, ...data.lost_by_cause.map((c) => c.energy_lost_kwh || 0));
    $("#perf-causes tbody").innerHTML = data.lost_by_cause.map((c) => `<tr data-fault-type="${esc(c.fault_type)}"><td>${esc(c.fault_type)}</td>
      <td>${c.alerts}</td><td><span class="meter"><span data-width="${(100 * (c.energy_lost_kwh || 0) / maxLost).toFixed(1)}"></span></span>
      ${fmt(c.energy_lost_kwh, 1)}</td><td>${fmt(c.revenue_lost, 2)}</td></tr>`).join("");
    meters($("#perf-causes"));
    $("#perf-causes-empty").hidden = data.lost_by_cause.length > 0;
  }

  window.HeliosView({ name: "performance", label: "Performance", input: "#perf-days", button: "#perf-load",
                      url: (days) => `/v1/insights/performance?days=${days}`, render });
})();
