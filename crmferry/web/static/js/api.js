/* CRM Ferry pages: a small client for the JSON API, problem details shown in
   place, and time formatting in the user's zone. No framework, no build. */
"use strict";

(function () {
  const CF = (window.CF = window.CF || {});

  class Problem extends Error {
    constructor(status, body) {
      super((body && body.detail) || `Request failed (${status})`);
      this.status = status;
      this.detail = this.message;
      this.errors = (body && body.errors) || [];
    }
  }
  CF.Problem = Problem;

  CF.csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  /** Call the API; JSON in and out, FormData passed through. Throws CF.Problem. */
  CF.api = async function (method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = CF.csrf();
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch("/api/v1" + path, init);
    } catch (err) {
      throw new Problem(0, { detail: "The server cannot be reached; check your connection." });
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (err) { data = { detail: text }; }
    if (!response.ok) throw new Problem(response.status, data);
    return data;
  };

  let eventSource = null;
  /** The page's one event stream (GET /events), shared by the bell and the page. */
  CF.events = function () {
    if (!window.EventSource) return null;
    if (!eventSource) eventSource = new EventSource("/api/v1/events");
    return eventSource;
  };

  /** A list endpoint's items, whether it answers a bare list or {"items": [...]}. */
  CF.items = (data) => (Array.isArray(data) ? data : (data && data.items) || []);

  CF.clearProblems = function (root) {
    root.querySelectorAll("[data-error-for], [data-form-error]").forEach((el) => {
      el.hidden = true;
      el.textContent = "";
    });
    root.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  };

  function errorSlot(root, field) {
    const slots = [...root.querySelectorAll("[data-error-for]")];
    return slots.find((s) => s.dataset.errorFor === field) ||
      slots.find((s) => field.startsWith(s.dataset.errorFor + ".")) ||
      slots.find((s) => s.dataset.errorFor.endsWith("." + field));
  }

  /** Show a problem inside `root`: field messages next to their fields, the rest on top. */
  CF.showProblem = function (root, problem) {
    CF.clearProblems(root);
    const leftovers = [];
    for (const error of (problem && problem.errors) || []) {
      const slot = errorSlot(root, String(error.field || ""));
      if (!slot) { leftovers.push(error); continue; }
      slot.textContent = (slot.textContent ? slot.textContent + " " : "") + error.message;
      slot.hidden = false;
      const control = slot.parentElement && slot.parentElement.querySelector("input, select, textarea");
      if (control) control.setAttribute("aria-invalid", "true");
    }
    const general = root.querySelector("[data-form-error]");
    if (general) {
      const extra = leftovers.map((e) => `${e.field}: ${e.message}`).join("; ");
      general.textContent = (problem.detail || "Something went wrong.") + (extra ? ` (${extra})` : "");
      general.hidden = false;
    }
  };

  /** A tiny element builder: CF.el("a", {href: "/x", class: "button"}, "text", child). */
  CF.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  /** A status badge, cloned from the page's one markup (the `badge` macro): `tone` is a job
      status (its colour), `text` defaults to the status, capitalised. */
  CF.badge = function (tone, text) {
    const node = document.getElementById("badge-template").content.firstElementChild.cloneNode(true);
    if (tone) node.classList.add(tone);
    node.textContent = text === undefined ? tone.charAt(0).toUpperCase() + tone.slice(1) : text;
    return node;
  };

  /** What the server shares with the scripts: the finished job statuses and the export
      filter operators (with their labels), from the server's own lists. */
  const vocabulary = document.getElementById("vocabulary");
  CF.vocabulary = vocabulary ? JSON.parse(vocabulary.textContent) : { finished_statuses: [], filter_operators: [] };
  CF.isFinished = (status) => CF.vocabulary.finished_statuses.includes(status);

  /** Show `problem`'s detail in `box` (an alert element), or hide the box when null. */
  CF.showError = function (box, problem) {
    box.textContent = problem ? problem.detail || String(problem) : "";
    box.hidden = !problem;
  };

  /** One action of a page: ask `confirmText` first (when given), call the API, clear
      `box` on success or show the problem in it. The API's answer (null for 204), or
      undefined when the action failed or was not confirmed. */
  CF.act = async function (box, method, path, body, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return undefined;
    try {
      const result = await CF.api(method, path, body);
      CF.showError(box, null);
      return result;
    } catch (problem) {
      CF.showError(box, problem);
      return undefined;
    }
  };

  /* Time ------------------------------------------------------------------ */

  /** The user's zone: their saved choice (Settings), else the browser's. */
  CF.timezone = () => document.body.dataset.userTimezone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  function parts(ms, tz) {
    const fmt = new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    const out = {};
    for (const p of fmt.formatToParts(new Date(ms))) out[p.type] = p.value;
    return out;
  }

  function offsetMs(ms, tz) {
    const p = parts(ms, tz);
    const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    return asUtc - Math.floor(ms / 1000) * 1000;
  }

  /** "YYYY-MM-DDTHH:MM" of instant `ms` as a wall clock in `tz` (datetime-local's format). */
  CF.naiveLocal = function (ms, tz) {
    const p = parts(ms, tz);
    return `${p.year}-${p.month}-${p.day}T${String(+p.hour % 24).padStart(2, "0")}:${p.minute}`;
  };

  /** The instant a wall-clock "YYYY-MM-DDTHH:MM" in `tz` names (nearest, across DST). */
  CF.zonedToInstant = function (naive, tz) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(naive || "");
    if (!m) return null;
    const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    let instant = guess - offsetMs(guess, tz);
    instant = guess - offsetMs(instant, tz);
    return instant;
  };

  /** "Tue 1 Dec, 09:00" in `tz`. */
  CF.formatWhen = function (value, tz) {
    const ms = typeof value === "number" ? value : Date.parse(value);
    if (Number.isNaN(ms)) return "";
    const fmt = new Intl.DateTimeFormat("en-GB", {
      timeZone: tz || CF.timezone(), weekday: "short", day: "numeric", month: "short",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    const p = {};
    for (const part of fmt.formatToParts(new Date(ms))) p[part.type] = part.value;
    const year = new Date(ms).getUTCFullYear() !== new Date().getUTCFullYear() ? ` ${new Date(ms).getUTCFullYear()}` : "";
    return `${p.weekday} ${p.day} ${p.month}${year}, ${p.hour}:${p.minute}`;
  };

  const UNITS = [["day", 86400e3], ["hour", 3600e3], ["minute", 60e3], ["second", 1e3]];
  /** "in 2 days", "in 5 minutes", "3 hours ago". */
  CF.relative = function (ms) {
    const diff = ms - Date.now();
    const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
    for (const [unit, size] of UNITS) {
      if (Math.abs(diff) >= size || unit === "second") return rtf.format(Math.round(diff / size), unit);
    }
    return "";
  };

  /** "1:02:03" or "2 d 03:04:05" until `ms`; "now" when past. */
  CF.countdown = function (ms) {
    let s = Math.max(0, Math.round((ms - Date.now()) / 1000));
    if (s === 0) return "due now";
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const clock = `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    return d ? `${d} d ${clock}` : clock;
  };

  CF.duration = function (startIso, endIso) {
    if (!startIso || !endIso) return "";
    const s = Math.max(0, (Date.parse(endIso) - Date.parse(startIso)) / 1000);
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  };

  /* Exports started in this browser: their download is offered when they finish. */
  const MINE = "crmferry.myExports";
  CF.myExports = () => { try { return JSON.parse(localStorage.getItem(MINE) || "[]"); } catch (e) { return []; } };
  CF.trackExport = (id) => localStorage.setItem(MINE, JSON.stringify([...new Set([...CF.myExports(), id])].slice(-50)));
  CF.untrackExport = (id) => localStorage.setItem(MINE, JSON.stringify(CF.myExports().filter((x) => x !== id)));

  CF.canWrite = () => document.body.dataset.canWrite === "true";

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-timezone-name]").forEach((el) => { el.textContent = CF.timezone(); });
  });
})();
