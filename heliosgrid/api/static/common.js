/* HeliosGrid dashboard — what every view script shares (loaded before them):
 * window.HeliosFormat: value formatting (units as in the API: kW, kWh, ratios 0..1 shown as %,
 *   ages in seconds) and HTML escaping;
 * window.HeliosView: the life cycle of an on-demand view (read its bounded input, fetch, render,
 *   report errors, mark data-ready for the browser tests). */
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const missing = (v) => v === null || v === undefined || Number.isNaN(v);

  window.HeliosFormat = {
    fmt: (v, digits = 1) => (missing(v) ? "—" : Number(v).toFixed(digits)),
    pct: (v) => (missing(v) ? "—" : (100 * v).toFixed(1) + " %"),
    age: (s) => (missing(s) ? "—" : s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`),
    time: (t) => (t ? new Date(t).toLocaleString() : "—"),
    esc: (t) => String(t ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])),
    // The CSP (style-src 'self') refuses inline style attributes: meter widths are set through CSSOM.
    meters: (root) => root.querySelectorAll("span[data-width]").forEach((el) => { el.style.width = el.dataset.width + "%"; }),
  };

  /* Register the view `name` (section #<name>-view): on "helios:view" = name and on its button
   * `button`, read the integer input `input` clamped to the input's own min/max (its default
   * value when empty), GET url(value) and hand the JSON to render(data, value). Errors go to
   * #error prefixed with `label`. */
  window.HeliosView = function ({ name, label, input, button, url, render }) {
    async function load() {
      const view = $(`#${name}-view`);
      view.dataset.ready = "false";
      const el = $(input);
      const value = Math.min(Number(el.max), Math.max(Number(el.min), parseInt(el.value, 10) || Number(el.defaultValue)));
      try {
        render(await window.HeliosApi(url(value)), value);
        $("#error").textContent = "";
        view.dataset.ready = "true";
      } catch (e) { $("#error").textContent = `${label}: ${e.message}`; }
    }
    document.addEventListener("helios:view", (ev) => { if (ev.detail === name) load(); });
    document.addEventListener("DOMContentLoaded", () => $(button).addEventListener("click", load));
  };
})();
