/* Scheduled Jobs page: pending with countdowns, running with live progress
   (Server-Sent Events), history with actions; a 30-second refresh as fallback. */
"use strict";

(function () {
  const CF = window.CF;
  const jobs = new Map();
  let historyCursor = null;
  // events that arrive while a refresh is loading win over the (older) lists it loads
  let eventsDuringRefresh = null;
  const errorBox = document.querySelector("[data-form-error]");
  const liveState = document.querySelector(".live-state");

  const label = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1).replace(/_/g, " ") : "");

  const showError = (problem) => CF.showError(errorBox, problem);

  async function act(method, path, body, confirmText) {
    const result = await CF.act(errorBox, method, path, body, confirmText);
    if (result && result.id) upsert(result);
    return result;
  }

  function button(text, onclick, extra) {
    return CF.el("button", { type: "button", onclick, ...(extra || {}) }, text);
  }

  function fileCell(job) {
    return job.file_name || (job.options && job.options.format ? job.options.format.toUpperCase() : "—");
  }

  function pendingRow(job) {
    const at = Date.parse(job.scheduled_time);
    const cells = [
      CF.el("td", {}, label(job.job_type)), CF.el("td", {}, job.data_type), CF.el("td", {}, fileCell(job)),
      CF.el("td", {}, job.creator_name || ""),
      CF.el("td", {}, CF.el("time", { datetime: job.scheduled_time, "data-testid": "scheduled-for" }, CF.formatWhen(at, CF.timezone()))),
      CF.el("td", { class: "countdown", dataset: { at: String(at) } }, CF.countdown(at)),
    ];
    if (CF.canWrite()) {
      cells.push(CF.el("td", {}, button("Cancel", () => act("POST", `/jobs/${job.id}/cancel`, undefined,
        `Cancel this ${job.job_type} of ${job.data_type} scheduled for ${CF.formatWhen(at, CF.timezone())}? It will not run.`), { class: "danger" })));
    }
    return CF.el("tr", { dataset: { jobId: job.id, status: job.status } }, cells);
  }

  function progressCell(job) {
    const p = job.progress || { done: 0, total: null };
    const elapsed = job.started_at ? (Date.now() - Date.parse(job.started_at)) / 1000 : 0;
    const rate = elapsed > 0.5 ? Math.round((p.done || 0) / elapsed) : 0;
    const text = `${p.done || 0}${p.total ? " / " + p.total : ""} rows${rate ? ` · ${rate} rows/s` : ""}${job.cancel_requested ? " · cancelling…" : ""}`;
    const bar = p.total ? CF.el("progress", { max: String(p.total), value: String(p.done || 0) }, text)
      : CF.el("progress", {}, text);
    return CF.el("td", {}, bar, CF.el("span", { class: "progress-text" }, text));
  }

  function runningRow(job) {
    const cells = [CF.el("td", {}, label(job.job_type)), CF.el("td", {}, job.data_type), CF.el("td", {}, fileCell(job)), progressCell(job)];
    if (CF.canWrite()) {
      cells.push(CF.el("td", {}, button("Cancel", () => act("POST", `/jobs/${job.id}/cancel`, undefined,
        "Abort this running job? It stops at its next batch and keeps nothing."), { class: "danger", disabled: job.cancel_requested })));
    }
    return CF.el("tr", { dataset: { jobId: job.id, status: job.status } }, cells);
  }

  function countsText(job) {
    const c = job.counts || {};
    if (job.job_type === "export") return job.status === "completed" ? `${job.record_count ?? 0} exported` : "";
    return `${c.inserted || 0} inserted · ${c.updated || 0} updated · ${c.unchanged || 0} unchanged · ${c.failed || 0} failed`;
  }

  function historyActions(job) {
    const out = [];
    if (job.result_url && job.status === "completed") out.push(CF.el("a", { class: "button", href: job.result_url, download: "" }, "Download"));
    if (job.error_report_url) out.push(CF.el("a", { class: "button", href: job.error_report_url, download: "" }, "Error report"));
    if (CF.canWrite()) {
      if (job.status === "failed" || job.status === "cancelled") out.push(button("Retry", () => act("POST", `/jobs/${job.id}/retry`)));
      if ((job.job_type === "import" || job.job_type === "import_batch") && job.status === "completed" && !(job.options && job.options.dry_run)) {
        out.push(button("Revert", () => act("POST", `/jobs/${job.id}/revert`, {}, "Undo every change this import made?")));
      }
      out.push(button("Delete", async () => {
        if (!window.confirm("Delete this job and its files?")) return;
        try { await CF.api("DELETE", `/jobs/${job.id}`); jobs.delete(job.id); render(); } catch (p) { showError(p); }
      }, { class: "danger" }));
    }
    return out;
  }

  const CHANNEL_NAMES = { email: "E-mail", in_app: "In the app", webhooks: "Webhook" };

  async function showNotified(job, cell) {
    try {
      const data = await CF.api("GET", `/jobs/${job.id}/deliveries`);
      const items = CF.items(data);
      const lines = items.map((d) => CF.el("li", {},
        `${CHANNEL_NAMES[d.channel] || d.channel}: ${d.recipient}${d.channel === "webhooks" ? ` (attempt ${d.attempts})` : ""} — ` +
        (d.status === "completed" ? "sent" : d.status === "failed" ? `failed (${d.error_message || ""})` : d.status)));
      cell.replaceChildren(items.length ? CF.el("ul", { class: "notified-list", "data-testid": "notified" }, lines)
        : CF.el("span", { class: "muted", "data-testid": "notified" }, "Nobody was notified."));
    } catch (p) { showError(p); }
  }

  const wanted = new URLSearchParams(window.location.search).get("job");

  function historyRow(job) {
    const dry = job.options && job.options.dry_run ? " (dry run)" : "";
    const notified = CF.el("div", { class: "notified" });
    const actions = historyActions(job);
    actions.push(button("Notified", () => showNotified(job, notified), { "data-testid": "show-notified" }));
    return CF.el("tr", { dataset: { jobId: job.id, status: job.status }, class: job.id === wanted ? "highlight" : "" },
      CF.el("td", {}, CF.badge(job.status)),
      CF.el("td", {}, label(job.job_type) + dry), CF.el("td", {}, job.data_type), CF.el("td", {}, fileCell(job)),
      CF.el("td", {}, job.creator_name || ""),
      CF.el("td", {}, job.completed_at ? CF.formatWhen(job.completed_at, CF.timezone()) : ""),
      CF.el("td", { class: "counts" }, countsText(job)),
      CF.el("td", {}, CF.duration(job.started_at, job.completed_at)),
      CF.el("td", { class: "error-text" }, job.error_message || ""),
      CF.el("td", { class: "row-actions" }, actions, notified));
  }

  function fill(tableId, rows) {
    const table = document.getElementById(tableId);
    table.tBodies[0].replaceChildren(...rows);
    table.closest(".card").querySelector(".empty").hidden = rows.length > 0;
  }

  function offerDownloads() {
    const mine = new Set(CF.myExports());
    const box = document.getElementById("ready-downloads");
    for (const job of jobs.values()) {
      if (!mine.has(job.id) || !CF.isFinished(job.status)) continue;
      CF.untrackExport(job.id);
      if (job.status !== "completed" || !job.result_url) continue;
      const link = CF.el("a", { class: "button primary", href: job.result_url, download: "", "data-testid": "ready-download" }, `Download ${job.data_type} export`);
      box.append(CF.el("p", { class: "alert ok", role: "status" }, "Your export is ready. ", link));
      link.focus();
    }
  }

  function render() {
    const all = [...jobs.values()];
    fill("pending-jobs", all.filter((j) => j.status === "pending")
      .sort((a, b) => Date.parse(a.scheduled_time) - Date.parse(b.scheduled_time)).map(pendingRow));
    fill("running-jobs", all.filter((j) => j.status === "processing").map(runningRow));
    fill("history-jobs", all.filter((j) => CF.isFinished(j.status))
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)).map(historyRow));
    offerDownloads();
  }

  let renderQueued = false;
  function upsert(job) {
    jobs.set(job.id, job);
    if (eventsDuringRefresh) eventsDuringRefresh.set(job.id, job);
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(() => { renderQueued = false; render(); });
    }
  }

  async function loadAll(path, pages) {
    let cursor = null;
    for (let i = 0; i < pages; i++) {
      const data = await CF.api("GET", path + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
      CF.items(data).forEach((j) => jobs.set(j.id, j));
      cursor = data && data.next_cursor;
      if (!cursor) break;
    }
  }

  async function loadHistoryPage() {
    const data = await CF.api("GET", `/jobs?limit=50${historyCursor ? `&cursor=${encodeURIComponent(historyCursor)}` : ""}`);
    CF.items(data).forEach((j) => jobs.set(j.id, j));
    historyCursor = (data && data.next_cursor) || null;
    document.getElementById("more-history").hidden = !historyCursor;
  }

  async function refresh() {
    eventsDuringRefresh = new Map();
    try {
      jobs.clear();
      await Promise.all([loadAll("/jobs?status=pending&limit=100", 5), loadAll("/jobs?status=processing&limit=100", 2)]);
      historyCursor = null;
      await loadHistoryPage();
      errorBox.hidden = true;
    } catch (problem) { showError(problem); }
    for (const job of eventsDuringRefresh.values()) jobs.set(job.id, job);
    eventsDuringRefresh = null;
    if (wanted && !jobs.has(wanted)) {
      try { const job = await CF.api("GET", `/jobs/${encodeURIComponent(wanted)}`); jobs.set(job.id, job); } catch (p) { /* gone */ }
    }
    render();
    const row = wanted && document.querySelector(`tr[data-job-id="${CSS.escape(wanted)}"]`);
    if (row && !row.dataset.shown) { row.dataset.shown = "1"; row.scrollIntoView({ block: "center" }); }
  }

  function connect() {
    const source = CF.events();
    if (!source) return;
    source.addEventListener("open", () => { liveState.textContent = "Live"; });
    source.addEventListener("job", (event) => {
      try { upsert(JSON.parse(event.data)); } catch (err) { /* a malformed event is ignored */ }
    });
    source.addEventListener("error", () => { liveState.textContent = "Reconnecting… (refreshing every 30 s)"; });
  }

  document.getElementById("refresh").addEventListener("click", refresh);
  document.getElementById("more-history").addEventListener("click", async () => {
    try { await loadHistoryPage(); render(); } catch (p) { showError(p); }
  });
  setInterval(() => {
    document.querySelectorAll(".countdown").forEach((cell) => { cell.textContent = CF.countdown(Number(cell.dataset.at)); });
  }, 1000);
  setInterval(refresh, 30000);
  refresh();
  connect();
})();
