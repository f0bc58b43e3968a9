/* Import/Export page, batch import: drop several files (or a ZIP of them), check each
   file's data type and mapping, then import all of them as one job (one transaction),
   dry-run it, or schedule it. Reads only the public API (POST /uploads/batch, POST /jobs). */
"use strict";

(function () {
  const CF = window.CF;
  const DATA_TYPES = JSON.parse(document.getElementById("data-types").textContent);
  const TYPES = Object.fromEntries(DATA_TYPES.map((t) => [t.name, t]));
  const section = document.querySelector("[data-batch-import]");
  if (!section) return;
  const form = section.querySelector("form");
  const input = form.querySelector('input[type="file"]');
  const zone = form.querySelector("[data-dropzone]");
  const list = form.querySelector(".batch-files");
  const statusEl = form.querySelector(".job-status");
  let uploads = [];

  function normalise(text) { return String(text).toLowerCase().replace(/[^a-z0-9]+/g, " ").trim(); }

  // a header that spells a field's name or label maps to it when the user changes a type
  function guess(type, header) {
    const wanted = normalise(header);
    const f = type.fields.find((x) => !x.computed && (normalise(x.name) === wanted || normalise(x.label) === wanted));
    return f ? f.name : "";
  }

  function fieldSelect(id, type, header, selected) {
    const options = [CF.el("option", { value: "" }, "— skip this column —")];
    for (const f of type.fields.filter((x) => !x.computed)) {
      options.push(CF.el("option", { value: f.name, selected: f.name === selected }, f.label + (f.required ? " *" : "")));
    }
    return CF.el("select", { id, "data-header": header }, options);
  }

  function renderMapping(row, upload, typeName, suggested) {
    const type = TYPES[typeName];
    const box = row.querySelector(".batch-mapping");
    box.replaceChildren(...upload.headers.map((header, i) => {
      const id = `batch-${upload.id}-map-${i}`;
      const chosen = suggested ? (suggested[header] || "") : guess(type, header);
      return CF.el("div", { class: "mapping-row" }, CF.el("label", { for: id }, header), fieldSelect(id, type, header, chosen));
    }));
  }

  function renderFile(upload, index) {
    const typeId = `batch-type-${index}`;
    const typeSelect = CF.el("select", { id: typeId, class: "batch-type", "data-testid": "batch-type" },
      DATA_TYPES.map((t) => CF.el("option", { value: t.name, selected: t.name === upload.suggested_data_type }, t.label)));
    const row = CF.el("fieldset", { class: "batch-file stack", dataset: { uploadId: upload.id } },
      CF.el("legend", {}, upload.file_name),
      CF.el("p", { class: "muted" }, `${upload.row_estimate ?? "?"} rows, ${upload.headers.length} columns.`),
      CF.el("div", {}, CF.el("label", { for: typeId }, "Data type"), typeSelect),
      CF.el("details", { class: "panel" }, CF.el("summary", {}, "Column mapping"), CF.el("div", { class: "batch-mapping mapping-rows" })));
    renderMapping(row, upload, typeSelect.value, upload.suggested_data_type === typeSelect.value ? upload.suggested_mapping : null);
    typeSelect.addEventListener("change", () => renderMapping(row, upload, typeSelect.value, typeSelect.value === upload.suggested_data_type ? upload.suggested_mapping : null));
    return row;
  }

  async function uploadFiles(files) {
    if (!files.length) return;
    CF.clearProblems(form);
    const body = new FormData();
    for (const f of files) body.append("file", f, f.name);
    statusEl.textContent = "Uploading…";
    try {
      uploads = CF.items(await CF.api("POST", "/uploads/batch", body));
      list.replaceChildren(...uploads.map(renderFile));
      form.querySelector(".batch-ready").hidden = false;
      statusEl.textContent = "";
    } catch (problem) {
      statusEl.textContent = "";
      CF.showProblem(form, problem);
    }
  }

  function batchBody(extra) {
    const items = [...list.querySelectorAll(".batch-file")].map((row) => ({
      upload_id: row.dataset.uploadId,
      data_type: row.querySelector(".batch-type").value,
      mapping: Object.fromEntries([...row.querySelectorAll("select[data-header]")].map((s) => [s.dataset.header, s.value || null])),
    }));
    const options = { on_error: form.querySelector('[name="batch_on_error"]').value };
    if (extra.dry_run) options.dry_run = true;
    const body = { job_type: "import_batch", items, options };
    if (extra.scheduled_time) Object.assign(body, { scheduled_time: extra.scheduled_time, timezone: extra.timezone });
    return body;
  }

  function summary(job) {
    const c = job.counts || {};
    const lines = [CF.el("p", { class: "job-line", dataset: { jobId: job.id, status: job.status } },
      CF.badge(job.status), " ",
      job.status === "pending" ? `Scheduled for ${CF.formatWhen(job.scheduled_time, CF.timezone())} ${CF.timezone()}. ` : "",
      job.status === "processing" ? `Processing: ${(job.progress || {}).done || 0}${(job.progress || {}).total ? " of " + job.progress.total : ""} rows. ` : "",
      CF.isFinished(job.status) ? `${job.options && job.options.dry_run ? "Dry run: " : ""}${c.inserted || 0} inserted, ${c.updated || 0} updated, ${c.failed || 0} failed. ` : "",
      job.error_message ? CF.el("span", { class: "error-text", text: job.error_message + " " }) : "",
      CF.el("a", { class: "button", href: "/jobs" }, "View Scheduled Jobs"))];
    const rows = (job.items || []).map((item) => CF.el("li", { "data-testid": "batch-item" },
      `${item.file_name} (${item.data_type}): ${item.counts.inserted} inserted, ${item.counts.updated} updated, ${item.counts.failed} failed `,
      item.error_report_url ? CF.el("a", { href: item.error_report_url, download: "" }, "error report") : ""));
    if (rows.length) lines.push(CF.el("ol", { class: "batch-results" }, rows));
    return lines;
  }

  async function follow(job) {
    statusEl.replaceChildren(...summary(job));
    let delay = 700;
    const dueNow = () => job.status === "pending" && Date.parse(job.scheduled_time) <= Date.now() + 1000;
    while (!CF.isFinished(job.status) && (job.status !== "pending" || dueNow())) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 1.3, 3000);
      try { job = await CF.api("GET", `/jobs/${job.id}`); } catch (p) { continue; }
      statusEl.replaceChildren(...summary(job));
    }
  }

  async function start(extra) {
    CF.clearProblems(form);
    try {
      await follow(await CF.api("POST", "/jobs", batchBody(extra)));
    } catch (problem) { CF.showProblem(form, problem); }
  }

  input.addEventListener("change", () => uploadFiles([...input.files]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadFiles([...e.dataTransfer.files]);
  });
  form.querySelector('[data-action="batch-import-now"]').addEventListener("click", () => start({}));
  form.querySelector('[data-action="batch-dry-run"]').addEventListener("click", () => start({ dry_run: true }));
  form.querySelector('[data-action="batch-schedule"]').addEventListener("click", () => {
    CF.clearProblems(form);
    CF.scheduleDialog.open({
      what: `Import ${uploads.length} files as one batch`,
      submit: async (when) => {
        const job = await CF.api("POST", "/jobs", batchBody(when));
        statusEl.replaceChildren(...summary(job));
        return job;
      },
    });
  });
})();
