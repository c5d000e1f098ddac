/* HeliosGrid operator dashboard: plain JS over the /v1 API (API key in localStorage, or once in
 * the URL fragment #key=…, which browsers never send to the server), live updates from the
 * Server-Sent Events stream /v1/stream opened with a short-lived stream token (never the key).
 * Units: kW, kWh, ratios as %. */
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const KEY_STORE = "heliosgrid.apiKey";
  const LIVE_WINDOW_MS = 15 * 60e3;
  const state = { key: null, sites: [], devices: {}, overview: {}, live: {}, livePoints: {}, chartSite: null,
                  rollups: [], forecast: [], alerts: new Map(), stream: null };

  const { fmt, pct, age, esc } = window.HeliosFormat;

  function showError(msg) { $("#error").textContent = msg || ""; }

  class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }

  async function api(path, options = {}) {
    const resp = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${state.key}`, Accept: "application/json" } });
    if (!resp.ok) {
      let detail = `${resp.status} ${resp.statusText}`;
      try { detail = (await resp.json()).detail || detail; } catch (e) { /* not JSON */ }
      if (resp.status === 401) askForKey(detail);
      throw new ApiError(resp.status, detail);
    }
    return resp.json();
  }

  window.HeliosApi = api; // shared with the Performance and Data quality views

  // --- key handling -----------------------------------------------------------------------------
  function askForKey(message) {
    if (state.stream) state.stream.close();
    for (const m of document.querySelectorAll("main")) m.hidden = true;
    $("#key-form").hidden = false;
    $("#key-error").textContent = message || "";
  }

  function initKey() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const fromUrl = fragment.get("key");
    if (fromUrl) {
      localStorage.setItem(KEY_STORE, fromUrl);
      fragment.delete("key");
      history.replaceState(null, "", location.pathname + location.search + (fragment.toString() ? "#" + fragment : ""));
    }
    state.key = localStorage.getItem(KEY_STORE);
  }

  // --- operator view ----------------------------------------------------------------------------
  function siteLiveKw(siteId) {
    const devs = state.live[siteId] || {};
    const newest = Math.max(0, ...Object.values(devs).map((d) => d.ts));
    let sum = null;
    for (const d of Object.values(devs)) if (newest - d.ts <= LIVE_WINDOW_MS) sum = (sum || 0) + d.kw;
    return sum;
  }

  function renderCards() {
    const box = $("#sites");
    box.innerHTML = "";
    for (const site of state.sites) {
      const o = state.overview[site.site_id] || {};
      const live = siteLiveKw(site.site_id);
      const current = live !== null ? live : o.current_ac_power_kw;
      const fresh = o.freshness_age_s !== null && o.freshness_age_s !== undefined && o.freshness_age_s <= 300;
      const card = document.createElement("article");
      card.className = "card"; card.id = `site-${site.site_id}`; card.dataset.siteId = site.site_id;
      card.innerHTML = `
        <h3><span>${esc(site.name)}</span><span class="muted">${esc(site.site_id)} · ${fmt(site.ac_capacity_kw, 0)} kWac</span></h3>
        <div class="metric"><span>Current power</span><span class="v big" data-field="current-kw">${fmt(current)} kW</span></div>
        <div class="metric"><span>Expected (from POA)</span><span class="v" data-field="expected-kw">${fmt(o.expected_ac_power_kw)} kW</span></div>
        <div class="metric"><span>Forecast P10–P90 (P50)</span><span class="v" data-field="forecast">${o.forecast_p50_kw === null || o.forecast_p50_kw === undefined ? "no forecast" : `${fmt(o.forecast_p10_kw)}–${fmt(o.forecast_p90_kw)} (${fmt(o.forecast_p50_kw)}) kW`}</span></div>
        <div class="metric"><span>Energy today</span><span class="v" data-field="energy-today">${fmt(o.energy_today_kwh)} kWh</span></div>
        <div class="metric"><span>Performance ratio today</span><span class="v" data-field="pr">${pct(o.performance_ratio_today)}</span></div>
        <div class="metric"><span>Availability today</span><span class="v" data-field="availability">${pct(o.availability_today)}</span></div>
        <div class="metric"><span>Open alerts</span><span class="v" data-field="open-alerts">${o.open_alerts ?? "—"}</span></div>
        <div class="metric"><span>Data freshness</span><span class="v ${fresh ? "fresh-ok" : "fresh-stale"}" data-field="freshness">${age(o.freshness_age_s)}</span></div>`;
      box.appendChild(card);
    }
  }

  async function loadOverview() {
    const ov = await api("/v1/overview");
    for (const row of ov.items) state.overview[row.site_id] = row;
    renderCards();
  }

  async function loadLiveSeed() {
    const page = await api(`/v1/readings/latest?max_age_s=${LIVE_WINDOW_MS / 1000}`);
    for (const r of page.items) noteReading(r, false);
  }

  function noteReading(r, fromStream) {
    if (r.ac_power_kw === null || r.ac_power_kw === undefined) return;
    const ts = Date.parse(r.ts);
    const site = (state.live[r.site_id] = state.live[r.site_id] || {});
    if (!site[r.device_id] || site[r.device_id].ts <= ts) site[r.device_id] = { ts, kw: r.ac_power_kw };
    if (fromStream) {
      const kw = siteLiveKw(r.site_id);
      (state.livePoints[r.site_id] = state.livePoints[r.site_id] || []).push([new Date(ts), kw]);
    }
  }

  async function loadChartData() {
    const site = state.chartSite;
    if (!site) return;
    $("#chart-site").textContent = site;
    const now = Date.now();
    const start = new Date(now - 12 * 3600e3).toISOString(), end = new Date(now + 6 * 3600e3).toISOString();
    const [roll, fc] = await Promise.all([
      api(`/v1/rollups/15m?group_by=site&site_id=${encodeURIComponent(site)}&start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}&limit=1000`),
      api(`/v1/forecasts?site_id=${encodeURIComponent(site)}&start=${encodeURIComponent(start)}&end=${encodeURIComponent(end)}`),
    ]);
    state.rollups = roll.items; state.forecast = fc.items;
    const bi = await api(`/v1/overview?site_id=${encodeURIComponent(site)}`);
    for (const row of bi.items) state.overview[row.site_id] = row;
    drawPowerChart();
  }

  function drawPowerChart() {
    const site = state.chartSite;
    const live = (state.livePoints[site] || []).slice(-500);
    const series = [
      { kind: "band", cls: "forecast-band", color: "rgba(63,185,80,.25)", points: state.forecast.map((f) => [new Date(f.target_ts), f.p10_kw, f.p90_kw]) },
      { kind: "line", cls: "forecast-p50", color: "#3fb950", dash: "4 3", points: state.forecast.map((f) => [new Date(f.target_ts), f.p50_kw]) },
      { kind: "line", cls: "expected", color: "#8b98a5", dash: "2 2", points: state.rollups.map((r) => [new Date(r.bucket), r.expected_ac_power_kw]) },
      { kind: "line", cls: "actual", color: "#58a6ff", points: state.rollups.map((r) => [new Date(r.bucket), r.ac_power_kw]) },
      { kind: "line", cls: "live", color: "#f5b301", dots: true, points: live },
    ];
    HeliosCharts.draw($("#power-chart"), { series, yLabel: "kW", title: `power of ${site}` });
  }

  let chartPending = false;
  function scheduleChart() {  // at most one redraw per second however fast readings arrive
    if (chartPending) return;
    chartPending = true;
    setTimeout(() => { chartPending = false; drawPowerChart(); }, 1000);
  }

  // --- alerts -----------------------------------------------------------------------------------
  function renderAlerts() {
    const body = $("#alerts tbody");
    body.innerHTML = "";
    const active = [...state.alerts.values()].filter((a) => a.state !== "resolved").sort((a, b) => b.alert_id - a.alert_id);
    $("#alerts-empty").hidden = active.length > 0;
    for (const a of active) {
      const tr = document.createElement("tr");
      tr.dataset.alertId = a.alert_id; tr.id = `alert-${a.alert_id}`;
      tr.innerHTML = `<td class="sev-${esc(a.severity)}">${esc(a.severity)}</td><td>${esc(a.site_id)}${a.device_id ? " / " + esc(a.device_id) : ""}</td>
        <td title="${esc(a.recommended_action)}">${esc(a.title)}</td><td>${esc(new Date(a.started_at).toLocaleString())}</td>
        <td>${fmt(a.energy_lost_kwh)}</td><td class="state">${esc(a.state)}${a.acknowledged_by ? " by " + esc(a.acknowledged_by) : ""}</td>
        <td>${a.state === "open" ? '<button class="ack">Acknowledge</button>' : ""} <button class="resolve">Resolve</button></td>`;
      body.appendChild(tr);
    }
  }

  async function loadAlerts() {
    const page = await api("/v1/alerts?state=active&limit=200");
    state.alerts = new Map(page.items.map((a) => [a.alert_id, a]));
    renderAlerts();
  }

  async function transition(alertId, action) {
    try {
      const updated = await api(`/v1/alerts/${alertId}/${action}`, { method: "POST" });
      state.alerts.set(updated.alert_id, updated);
      renderAlerts();
      showError("");
    } catch (e) {
      showError(e.status === 403 ? `This API key may not change alerts (needs the alerts:write scope): ${e.message}` : e.message);
    }
  }

  // --- live stream ------------------------------------------------------------------------------
  async function openStream() {
    if (state.stream) state.stream.close();
    state.stream = null;
    const badge = $("#live-status");
    let token;
    try {
      token = (await api("/v1/stream/token", { method: "POST" })).token;
    } catch (e) {
      badge.textContent = "live: reconnecting"; badge.className = "badge off";
      if (e.status !== 401 && e.status !== 403) setTimeout(openStream, 5000);
      return;
    }
    const es = new EventSource(`/v1/stream?token=${encodeURIComponent(token)}`);
    state.stream = es;
    es.addEventListener("ready", () => { badge.textContent = "live: on"; badge.className = "badge on"; });
    es.addEventListener("reading", (ev) => {
      const r = JSON.parse(ev.data);
      noteReading(r, true);
      const li = document.createElement("li");
      li.dataset.deviceId = r.device_id;
      li.textContent = `${new Date(r.ts).toLocaleTimeString()} ${r.device_id} ${fmt(r.ac_power_kw, 2)} kW ${r.inverter_status ?? ""}`;
      const feed = $("#live-feed");
      feed.prepend(li);
      while (feed.children.length > 200) feed.lastChild.remove();
      const card = document.querySelector(`#site-${CSS.escape(r.site_id)} [data-field="current-kw"]`);
      const kw = siteLiveKw(r.site_id);
      if (card && kw !== null) card.textContent = `${fmt(kw)} kW`;
      if (r.site_id === state.chartSite) scheduleChart();
    });
    es.addEventListener("alert", (ev) => { const a = JSON.parse(ev.data); state.alerts.set(a.alert_id, a); renderAlerts(); });
    es.addEventListener("revoked", (ev) => { es.close(); askForKey(JSON.parse(ev.data).detail); });
    es.onerror = () => {
      badge.textContent = "live: reconnecting"; badge.className = "badge off";
      // The browser retries with the same URL; once the token has expired that fails for good,
      // so a closed stream is reopened with a fresh token.
      if (es.readyState === EventSource.CLOSED && state.stream === es) setTimeout(openStream, 3000);
    };
  }

  // --- history view -----------------------------------------------------------------------------
  async function loadHistory() {
    const site = $("#hist-site").value, res = $("#hist-res").value;
    const days = Math.min(366, Math.max(1, parseInt($("#hist-days").value, 10) || 14));
    const end = new Date(), start = new Date(end.getTime() - days * 86400e3);
    const q = `site_id=${encodeURIComponent(site)}&start=${encodeURIComponent(start.toISOString())}&end=${encodeURIComponent(end.toISOString())}`;
    try {
      const [roll, kpis] = await Promise.all([api(`/v1/rollups/${res}?group_by=site&${q}&limit=10000`), api(`/v1/kpis?${q}`)]);
      const barMs = { "15m": 900e3, "1h": 3600e3, "1d": 86400e3 }[res];
      HeliosCharts.draw($("#history-chart"), { yLabel: "kWh", title: `energy of ${site}`, xMin: start.getTime(), xMax: end.getTime(),
        series: [{ kind: "bars", cls: "energy", color: "#58a6ff", barMs, points: roll.items.map((r) => [new Date(r.bucket), r.energy_kwh]) }] });
      $("#kpi-table tbody").innerHTML = kpis.items.map((k) => `<tr><td>${esc(k.day.slice(0, 10))}</td><td>${fmt(k.energy_kwh)}</td>
        <td>${fmt(k.specific_yield_kwh_kwp, 2)}</td><td>${pct(k.performance_ratio)}</td><td>${pct(k.availability)}</td><td>${fmt(k.lost_energy_kwh)}</td></tr>`).join("");
      showError("");
    } catch (e) { showError(e.message); }
  }

  // --- wiring -----------------------------------------------------------------------------------
  function switchView(view) {
    for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === view);
    for (const m of document.querySelectorAll("main[data-view]")) m.hidden = m.dataset.view !== view;
    if (view === "history") loadHistory();
    document.dispatchEvent(new CustomEvent("helios:view", { detail: view })); // performance.js, quality.js
  }

  async function start() {
    $("#key-form").hidden = true;
    $("#operator-view").hidden = false;
    try {
      state.sites = (await api("/v1/sites")).items;
      const options = state.sites.map((s) => `<option value="${esc(s.site_id)}">${esc(s.name)}</option>`).join("");
      $("#chart-site-select").innerHTML = options; $("#hist-site").innerHTML = options;
      state.chartSite = state.sites.length ? state.sites[0].site_id : null;
      await Promise.all([loadOverview(), loadAlerts(), loadLiveSeed()]);
      renderCards();
      openStream();
      await loadChartData();
      document.body.dataset.ready = "true";
      showError("");
    } catch (e) { if (e.status !== 401) showError(`Could not load the dashboard: ${e.message}`); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#login").addEventListener("submit", (ev) => {
      ev.preventDefault();
      state.key = $("#key-input").value.trim();
      localStorage.setItem(KEY_STORE, state.key);
      start();
    });
    $("#forget-key").addEventListener("click", () => { localStorage.removeItem(KEY_STORE); askForKey(""); });
    for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => switchView(b.dataset.view));
    $("#chart-site-select").addEventListener("change", (ev) => { state.chartSite = ev.target.value; loadChartData().catch((e) => showError(e.message)); });
    $("#hist-load").addEventListener("click", loadHistory);
    $("#alerts").addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-alert-id]");
      if (!tr) return;
      if (ev.target.classList.contains("ack")) transition(tr.dataset.alertId, "acknowledge");
      if (ev.target.classList.contains("resolve")) transition(tr.dataset.alertId, "resolve");
    });
    setInterval(() => { if (state.key && !$("#operator-view").hidden) loadOverview().catch(() => {}); }, 60e3);
    initKey();
    if (state.key) start(); else askForKey("");
  });
})();
