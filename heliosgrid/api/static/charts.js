/* HeliosGrid — a very small SVG time-series chart (no dependencies, no build step).
 * HeliosCharts.draw(container, {series, yLabel, xMin, xMax}) where each series is
 *   {kind: "line"|"band"|"bars", cls, color, points: [[Date, value], ...]} (band points: [Date, lo, hi]).
 * Times are drawn in the browser's local time zone; values in the series' unit (kW, kWh). */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 1000, H = 280, M = { l: 52, r: 12, t: 22, b: 26 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function draw(container, opts) {
    const series = opts.series || [];
    let xMin = opts.xMin, xMax = opts.xMax, yMax = 0;
    for (const s of series) for (const p of s.points) {
      const t = p[0].getTime();
      if (xMin === undefined || t < xMin) xMin = t;
      if (xMax === undefined || t > xMax) xMax = t;
      for (const v of p.slice(1)) if (v !== null && v > yMax) yMax = v;
    }
    container.innerHTML = "";
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title || "chart" }, container);
    if (xMin === undefined || xMax === undefined) {
      el("text", { x: W / 2, y: H / 2, fill: "#8b98a5", "text-anchor": "middle" }, svg).textContent = "no data in this range";
      return svg;
    }
    if (xMax === xMin) xMax = xMin + 3600e3;
    yMax = niceMax(yMax * 1.05);
    const x = (t) => M.l + ((t - xMin) / (xMax - xMin)) * (W - M.l - M.r);
    const y = (v) => H - M.b - (v / yMax) * (H - M.t - M.b);
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      el("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), stroke: "#2b3845" }, svg);
      el("text", { x: M.l - 6, y: y(v) + 4, fill: "#8b98a5", "font-size": 11, "text-anchor": "end" }, svg).textContent =
        v >= 100 ? v.toFixed(0) : v.toFixed(1);
    }
    if (opts.yLabel) el("text", { x: 4, y: 12, fill: "#8b98a5", "font-size": 11 }, svg).textContent = opts.yLabel;
    const spanH = (xMax - xMin) / 3600e3;
    for (let i = 0; i <= 6; i++) {
      const t = xMin + ((xMax - xMin) * i) / 6, d = new Date(t);
      const label = spanH <= 48 ? d.toTimeString().slice(0, 5) : d.toISOString().slice(5, 10);
      el("text", { x: x(t), y: H - 8, fill: "#8b98a5", "font-size": 11, "text-anchor": "middle" }, svg).textContent = label;
    }
    for (const s of series) {
      const pts = s.points.filter((p) => p.slice(1).every((v) => v !== null && v !== undefined));
      if (!pts.length) continue;
      if (s.kind === "band") {
        const upper = pts.map((p) => `${x(p[0].getTime())},${y(p[2])}`);
        const lower = pts.slice().reverse().map((p) => `${x(p[0].getTime())},${y(p[1])}`);
        el("polygon", { points: upper.concat(lower).join(" "), fill: s.color, class: s.cls || "band" }, svg);
      } else if (s.kind === "bars") {
        const bw = s.barMs ? Math.max(2, (x(xMin + s.barMs) - x(xMin)) * 0.8)
                           : Math.max(2, ((W - M.l - M.r) / Math.max(pts.length, 1)) * 0.8);
        for (const p of pts) {
          el("rect", { x: x(p[0].getTime() + (s.barMs || 0) / 2) - bw / 2, y: y(p[1]), width: bw, height: Math.max(0, y(0) - y(p[1])),
                       fill: s.color, class: s.cls || "bar" }, svg);
        }
      } else {
        el("polyline", { points: pts.map((p) => `${x(p[0].getTime())},${y(p[1])}`).join(" "), fill: "none",
                         stroke: s.color, "stroke-width": s.width || 2, "stroke-dasharray": s.dash || "", class: s.cls || "line" }, svg);
        if (s.dots) for (const p of pts) el("circle", { cx: x(p[0].getTime()), cy: y(p[1]), r: 3, fill: s.color, class: s.cls + "-dot" }, svg);
      }
    }
    return svg;
  }

  window.HeliosCharts = { draw };
})();
