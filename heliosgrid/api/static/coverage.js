/* HeliosGrid dashboard — "Detector coverage" panel of the Data quality view: per site the
 * detectors the newest maintenance run could not evaluate, with the reason
 * ("soiling: not evaluated — the model ratio scatters by 16 %…"). Data: GET /v1/maintenance/coverage. */
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const esc = (t) => String(t ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const time = (t) => (t ? new Date(t).toLocaleString() : "—");

  function siteRows(items) {
    const bySite = new Map();
    for (const r of items) {
      if (!bySite.has(r.site_id)) bySite.set(r.site_id, { run: r, missing: [] });
      if (r.detector) bySite.get(r.site_id).missing.push(r);
    }
    return [...bySite.values()].map(({ run, missing }) => {
      const what = missing.length
        ? missing.map((m) => `<li data-device-id="${esc(m.device_id)}" data-detector="${esc(m.detector)}">
            <span class="badge off">${esc(m.detector)}</span> not evaluated — ${esc(m.reason)} <span class="muted">(${esc(m.device_id)})</span></li>`).join("")
        : `<li class="fresh-ok">every detector evaluated</li>`;
      return `<tr data-site-id="${esc(run.site_id)}" data-missing="${missing.length}"><td>${esc(run.site_id)}</td>
        <td>${time(run.window_end)}</td><td><ul class="coverage">${what}</ul></td></tr>`;
    }).join("");
  }

  async function load() {
    const panel = $("#dq-coverage-panel");
    panel.dataset.ready = "false";
    try {
      const data = await window.HeliosApi("/v1/maintenance/coverage");
      $("#dq-coverage tbody").innerHTML = siteRows(data.items);
      $("#dq-coverage-empty").hidden = data.items.length > 0;
      panel.dataset.ready = "true";
    } catch (e) { $("#error").textContent = `Detector coverage: ${e.message}`; }
  }

  document.addEventListener("helios:view", (ev) => { if (ev.detail === "quality") load(); });
  document.addEventListener("DOMContentLoaded", () => $("#dq-load").addEventListener("click", load));
})();
