/* Import/Export page: upload → preview → mapping → options → run, dry-run or
   schedule; export with fields, filters, format, now, later or on a repeat. */
"use strict";

(function () {
  const CF = window.CF;
  // the data types as GET /data-types describes them (fields, keys, composed fields, links)
  const DATA_TYPES = JSON.parse(document.getElementById("data-types").textContent);

  /* Job status shown under a form, followed until it finishes. ---------- */

  function jobSummary(job) {
    const c = job.counts || {};
    const bits = [CF.badge(job.status), " "];
    if (job.status === "pending") {
      bits.push(`Scheduled for ${CF.formatWhen(job.scheduled_time, CF.timezone())} ${CF.timezone()}. `);
    } else if (job.status === "processing") {
      const p = job.progress || {};
      bits.push(`Processing: ${p.done || 0}${p.total ? " of " + p.total : ""} rows. `);
    } else if (job.job_type === "import") {
      bits.push(`${job.options && job.options.dry_run ? "Dry run: " : ""}${c.inserted || 0} inserted, ${c.updated || 0} updated, ` +
        `${c.unchanged || 0} unchanged, ${c.failed || 0} failed. `);
    } else if (job.status === "completed") {
      bits.push(`${job.record_count || 0} records exported. `);
    }
    if (job.error_message) bits.push(CF.el("span", { class: "error-text", text: job.error_message + " " }));
    if (job.result_url && job.status === "completed") {
      bits.push(CF.el("a", { class: "button primary", href: job.result_url, download: "", "data-testid": "download-result" }, "Download"), " ");
    }
    if (job.error_report_url) {
      bits.push(CF.el("a", { class: "button", href: job.error_report_url, download: "", "data-testid": "download-errors" }, "Download error report"), " ");
    }
    bits.push(CF.el("a", { class: "button", href: "/jobs" }, "View Scheduled Jobs"));
    return CF.el("p", { class: "job-line", dataset: { jobId: job.id, status: job.status } }, bits);
  }

  // A job due now (not scheduled for later) is followed through pending as well.
  function dueNow(job) {
    return job.status === "pending" && Date.parse(job.scheduled_time) <= Date.now() + 1000;
  }

  async function follow(statusEl, job) {
    statusEl.replaceChildren(jobSummary(job));
    let delay = 700;
    while (!CF.isFinished(job.status) && (job.status !== "pending" || dueNow(job))) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 1.3, 3000);
      try { job = await CF.api("GET", `/jobs/${job.id}`); } catch (p) { continue; }
      statusEl.replaceChildren(jobSummary(job));
    }
    if (job.job_type === "export" && job.status === "completed") {
      CF.untrackExport(job.id);
      const link = statusEl.querySelector('[data-testid="download-result"]');
      if (link) link.focus();
    }
  }

  /* Import ------------------------------------------------------------- */

  function renderPreview(card, upload) {
    const type = DATA_TYPES.find((t) => t.name === card.dataset.type);
    const delimiter = upload.delimiter === "\t" ? "tab" : upload.delimiter ? `“${upload.delimiter}”` : "—";
    card.querySelector(".file-facts").textContent =
      `${upload.file_name} · ${String(upload.format || "").toUpperCase()} · encoding ${upload.encoding || "—"} · ` +
      `delimiter ${delimiter} · about ${upload.row_estimate ?? "?"} rows`;
    const table = card.querySelector("table.preview");
    table.tHead.replaceChildren(CF.el("tr", {}, upload.headers.map((h) => CF.el("th", { scope: "col" }, h))));
    table.tBodies[0].replaceChildren(...(upload.preview || []).map((row) => CF.el("tr", {}, row.map((v) => CF.el("td", {}, v ?? "")))));
    CF.mappingStep.render(card, upload, type);
    renderReadChoices(card, upload);
    card.querySelector(".upload-result").hidden = false;
    loadTemplates(card);
    CF.mappingStep.check(card, checkBody(card));
  }

  // How the file was read (encoding, header row, sheet), each changeable: a change sends
  // the file again with that choice, and the preview shows its effect.
  function renderReadChoices(card, upload) {
    const box = card.querySelector(".read-choices");
    const note = box.querySelector(".encoding-note");
    note.textContent = upload.encoding_note || "";
    note.hidden = !upload.encoding_note;
    const encoding = box.querySelector('[name="encoding"]');
    const names = [upload.encoding, ...(upload.encoding_alternatives || []), ...(box.dataset.encodings || "").split(" ")];
    encoding.replaceChildren(...[...new Set(names.filter(Boolean))].map((name) =>
      CF.el("option", { value: name, selected: name === upload.encoding }, name === upload.encoding && upload.encoding_label ? `${upload.encoding_label}` : name)));
    // JSON Lines is UTF-8 and has no header row (its keys name the columns): neither is chosen
    const jsonLines = upload.format === "jsonl";
    box.querySelector(".encoding-choice").hidden = !upload.encoding || jsonLines;
    box.querySelector(".header-choice").hidden = jsonLines;
    box.querySelector('[name="header_row"]').value = upload.header_row || 1;
    box.querySelector('[name="last_row"]').value = upload.last_row || "";
    const readNotes = box.querySelector(".read-notes");
    readNotes.textContent = (upload.read_notes || []).join(" ");
    readNotes.hidden = !(upload.read_notes || []).length;
    const sheets = upload.sheets || [];
    const sheet = box.querySelector('[name="sheet"]');
    sheet.replaceChildren(...sheets.map((s) =>
      CF.el("option", { value: s.name, selected: s.name === upload.sheet }, s.name + (s.hidden ? " (hidden)" : ""))));
    box.querySelector(".sheet-choice").hidden = sheets.length < 2;
    const problems = box.querySelector(".read-problems");
    const found = upload.read_problems || [];
    problems.replaceChildren(...found.map((p) =>
      CF.el("li", {}, `Row ${p.row_number}${p.column ? `, column “${p.column}”` : ""} ${p.message}.`)));
    problems.hidden = found.length === 0;
  }

  function readChoices(card) {
    const box = card.querySelector(".read-choices");
    const choices = {};
    for (const name of ["encoding", "header_row", "sheet", "last_row"]) {
      const input = box.querySelector(`[name="${name}"]`);
      if (!input.closest("[hidden]") && input.value) choices[name] = input.value;
    }
    // the header row is found again in another sheet or encoding, unless the user set it
    if (box.dataset.headerChosen !== "true") delete choices.header_row;
    if (box.dataset.lastChosen !== "true") delete choices.last_row;
    return choices;
  }

  async function upload(card, file, choices = {}) {
    if (card.file !== file) {
      const box = card.querySelector(".read-choices");
      box.dataset.headerChosen = "false";
      box.dataset.lastChosen = "false";
    }
    card.file = file;
    const form = card.querySelector(".import-form");
    const status = form.querySelector(".job-status");
    CF.clearProblems(form);
    status.textContent = `Uploading ${file.name}…`;
    const body = new FormData();
    body.append("file", file);
    body.append("data_type", card.dataset.type);
    for (const [name, value] of Object.entries(choices)) body.append(name, value);
    try {
      card.upload = await CF.api("POST", "/uploads", body);
      status.textContent = "";
      renderPreview(card, card.upload);
    } catch (problem) {
      status.textContent = "";
      card.upload = null;
      card.querySelector(".upload-result").hidden = true;
      const slot = form.querySelector('[data-error-for="file"]');
      slot.textContent = problem.detail;
      slot.hidden = false;
    }
  }

  function currentMapping(card) {
    return CF.mappingStep.mapping(card);
  }

  function importOptions(form) {
    const value = (name) => form.querySelector(`[name="${name}"]`).value;
    const card = form.closest(".data-type");
    return {
      mode: value("mode"), on_error: value("on_error"), date_format: value("date_format"), decimal: value("decimal"),
      ...CF.mappingStep.options(card),
    };
  }

  // what the first-rows check tries: the mapping and options as the import would take them
  function checkBody(card) {
    const form = card.querySelector(".import-form");
    return { data_type: card.dataset.type, mapping: currentMapping(card), options: importOptions(form) };
  }

  function importBody(card, extra) {
    const form = card.querySelector(".import-form");
    const options = { ...importOptions(form), dry_run: Boolean(extra.dry_run) };
    return {
      job_type: "import", data_type: card.dataset.type, upload_id: card.upload.id,
      mapping: currentMapping(card), options, scheduled_time: extra.scheduled_time || null,
      timezone: extra.timezone || null,
    };
  }

  // A required field is satisfied by its own column, a default or, for a composed field (a
  // contact's name), by a column of any of its parts: the server's rule, read from the
  // description.
  function missingRequired(card) {
    const type = DATA_TYPES.find((t) => t.name === card.dataset.type);
    // a required field with a default needs no column
    const defaulted = Object.keys(CF.mappingStep.options(card).defaults || {});
    const mapped = new Set([...Object.values(currentMapping(card)), ...defaulted]);
    const satisfied = (f) => mapped.has(f.name) || (f.composed_from || []).some((part) => mapped.has(part));
    return type.fields.filter((f) => f.required && !satisfied(f)).map((f) => f.label);
  }

  async function startImport(card, dryRun) {
    const form = card.querySelector(".import-form");
    const status = form.querySelector(".job-status");
    CF.clearProblems(form);
    const missing = missingRequired(card);
    if (missing.length) {
      CF.showProblem(form, { detail: `Map a column to each required field: ${missing.join(", ")}.`, errors: [{ field: "mapping", message: `Not mapped: ${missing.join(", ")}.` }] });
      return;
    }
    try {
      const job = await CF.api("POST", "/jobs", importBody(card, { dry_run: dryRun }));
      await follow(status, job);
    } catch (problem) {
      CF.showProblem(form, problem);
    }
  }

  async function loadTemplates(card) {
    const select = card.querySelector(".template-select");
    try {
      const data = await CF.api("GET", `/templates?job_type=import&data_type=${card.dataset.type}`);
      const mine = CF.items(data).filter((t) => t.job_type === "import" && t.data_type === card.dataset.type);
      select.replaceChildren(CF.el("option", { value: "" }, "— none —"), ...mine.map((t) => CF.el("option", { value: t.id }, t.name)));
    } catch (problem) { /* templates are optional: the mapping still works without them */ }
  }

  async function applyTemplate(card) {
    const form = card.querySelector(".import-form");
    const id = card.querySelector(".template-select").value;
    if (!id) return;
    try {
      const template = await CF.api("GET", `/templates/${id}`);
      card.querySelectorAll(".mapping-rows select").forEach((s) => {
        const mapping = template.mapping || {};
        if (s.dataset.header in mapping) s.value = mapping[s.dataset.header] || "";
      });
      for (const [name, value] of Object.entries(template.options || {})) {
        const control = form.querySelector(`[name="${name}"]`);
        if (control && control.type !== "checkbox" && typeof value !== "object") control.value = value;
      }
      const type = DATA_TYPES.find((t) => t.name === card.dataset.type);
      CF.mappingStep.applyOptions(card, type, template.options || {});
    } catch (problem) { CF.showProblem(form, problem); }
  }

  async function saveTemplate(card) {
    const form = card.querySelector(".import-form");
    const name = card.querySelector(".template-name").value.trim();
    CF.clearProblems(form);
    if (!name) {
      CF.showProblem(form, { detail: "Give the template a name.", errors: [] });
      return;
    }
    try {
      await CF.api("POST", "/templates", { name, job_type: "import", data_type: card.dataset.type, mapping: currentMapping(card), options: importOptions(form) });
      form.querySelector(".job-status").textContent = `Template “${name}” saved.`;
      loadTemplates(card);
    } catch (problem) { CF.showProblem(form, problem); }
  }

  function wireImport(card) {
    const form = card.querySelector(".import-form");
    const input = form.querySelector('input[type="file"]');
    const zone = form.querySelector("[data-dropzone]");
    input.addEventListener("change", () => { if (input.files[0]) upload(card, input.files[0]); });
    const choicesBox = card.querySelector(".read-choices");
    choicesBox.addEventListener("change", (event) => {
      if (event.target.name === "header_row") choicesBox.dataset.headerChosen = "true";
      if (event.target.name === "last_row") choicesBox.dataset.lastChosen = "true";
      if (card.file) upload(card, card.file, readChoices(card));
    });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files[0]) upload(card, e.dataTransfer.files[0]);
    });
    CF.mappingStep.wire(card, DATA_TYPES.find((t) => t.name === card.dataset.type), () => checkBody(card));
    form.querySelector('[data-action="import-now"]').addEventListener("click", () => startImport(card, false));
    form.querySelector('[data-action="dry-run"]').addEventListener("click", () => startImport(card, true));
    form.querySelector(".load-template").addEventListener("click", () => applyTemplate(card));
    form.querySelector(".save-template").addEventListener("click", () => saveTemplate(card));
    form.querySelector('[data-action="schedule"]').addEventListener("click", () => {
      CF.clearProblems(form);
      const missing = missingRequired(card);
      if (missing.length) {
        CF.showProblem(form, { detail: `Map a column to each required field: ${missing.join(", ")}.`, errors: [{ field: "mapping", message: `Not mapped: ${missing.join(", ")}.` }] });
        return;
      }
      CF.scheduleDialog.open({
        what: `Import ${card.upload.file_name} into ${card.dataset.type}`,
        submit: async (when) => {
          const job = await CF.api("POST", "/jobs", importBody(card, when));
          form.querySelector(".job-status").replaceChildren(jobSummary(job));
          return job;
        },
      });
    });
  }

  /* Export ------------------------------------------------------------- */

  function filterRow(type) {
    const n = Math.random().toString(36).slice(2, 8);
    const value = CF.el("input", { id: `fv-${n}`, class: "filter-value" });
    const op = CF.el("select", { id: `fo-${n}`, class: "filter-op" },
      CF.vocabulary.filter_operators.map((o) => CF.el("option", { value: o.op }, o.label)));
    op.addEventListener("change", () => { value.hidden = op.value === "is_null"; });
    const row = CF.el("div", { class: "filter-row" },
      CF.el("label", { for: `ff-${n}`, class: "sr-only" }, "Filter field"),
      CF.el("select", { id: `ff-${n}`, class: "filter-field" }, type.fields.map((f) => CF.el("option", { value: f.name }, f.label))),
      CF.el("label", { for: `fo-${n}`, class: "sr-only" }, "Condition"), op,
      CF.el("label", { for: `fv-${n}`, class: "sr-only" }, "Value"), value,
      CF.el("button", { type: "button", class: "link", onclick: () => row.remove() }, "Remove"));
    return row;
  }

  function exportOptions(form) {
    const fields = [...form.querySelectorAll('input[name="fields"]:checked')].map((c) => c.value);
    const filters = [...form.querySelectorAll(".filter-row")].map((row) => {
      const op = row.querySelector(".filter-op").value;
      const raw = row.querySelector(".filter-value").value;
      const value = op === "in" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : op === "is_null" ? true : raw;
      return { field: row.querySelector(".filter-field").value, op, value };
    });
    const options = { format: form.querySelector('[name="format"]').value, fields, filters };
    // included records (a bid's lines) and the fields derived from them, as the description offers
    const include = [...form.querySelectorAll('input[name="include"]:checked')].map((c) => c.value);
    if (include.length) options.include = include;
    form.querySelectorAll('input[name="derive"]:checked').forEach((c) => { options[c.value] = true; });
    return options;
  }

  function exportBody(card, when) {
    const form = card.querySelector(".export-form");
    return { job_type: "export", data_type: card.dataset.type, options: exportOptions(form), scheduled_time: when.scheduled_time || null, timezone: when.timezone || null };
  }

  function cronFor(form) {
    const repeat = form.querySelector('[name="repeat"]').value;
    const [hour, minute] = (form.querySelector('[name="repeat_time"]').value || "08:00").split(":").map(Number);
    if (repeat === "daily") return `${minute} ${hour} * * *`;
    if (repeat === "weekly") return `${minute} ${hour} * * ${form.querySelector('[name="repeat_weekday"]').value}`;
    if (repeat === "monthly") return `${minute} ${hour} ${form.querySelector('[name="repeat_monthday"]').value} * *`;
    return form.querySelector('[name="cron"]').value.trim();
  }

  function checkFields(form) {
    if (exportOptions(form).fields.length) return true;
    CF.showProblem(form, { detail: "Choose at least one field to export.", errors: [{ field: "options.fields", message: "Choose at least one field." }] });
    return false;
  }

  function wireExport(card) {
    const form = card.querySelector(".export-form");
    const type = DATA_TYPES.find((t) => t.name === card.dataset.type);
    const status = form.querySelector(".job-status");
    const repeat = form.querySelector(".repeat-select");
    form.querySelector(".add-filter").addEventListener("click", () => form.querySelector(".filter-rows").append(filterRow(type)));
    repeat.addEventListener("change", () => {
      const value = repeat.value;
      form.querySelector(".repeat-options").hidden = !value;
      form.querySelector(".repeat-weekday").hidden = value !== "weekly";
      form.querySelector(".repeat-monthday").hidden = value !== "monthly";
      form.querySelector(".repeat-cron").hidden = value !== "custom";
      form.querySelector('[name="repeat_time"]').parentElement.hidden = value === "custom";
      form.querySelector('[data-action="create-schedule"]').hidden = !value;
      form.querySelector('[data-action="schedule"]').hidden = Boolean(value);
    });
    form.querySelector('[data-action="export-now"]').addEventListener("click", async () => {
      CF.clearProblems(form);
      if (!checkFields(form)) return;
      try {
        const job = await CF.api("POST", "/jobs", exportBody(card, {}));
        CF.trackExport(job.id);
        await follow(status, job);
      } catch (problem) { CF.showProblem(form, problem); }
    });
    form.querySelector('[data-action="schedule"]').addEventListener("click", () => {
      CF.clearProblems(form);
      if (!checkFields(form)) return;
      CF.scheduleDialog.open({
        what: `Export ${card.dataset.type} as ${form.querySelector('[name="format"]').value.toUpperCase()}`,
        submit: async (when) => {
          const job = await CF.api("POST", "/jobs", exportBody(card, when));
          CF.trackExport(job.id);
          status.replaceChildren(jobSummary(job));
          return job;
        },
      });
    });
    form.querySelector('[data-action="create-schedule"]').addEventListener("click", async () => {
      CF.clearProblems(form);
      if (!checkFields(form)) return;
      const body = {
        name: form.querySelector('[name="schedule_name"]').value.trim(), job_type: "export",
        data_type: card.dataset.type, options: exportOptions(form), cron: cronFor(form),
        timezone: CF.timezone(), enabled: true,
      };
      try {
        const schedule = await CF.api("POST", "/schedules", body);
        status.replaceChildren(CF.el("p", { class: "alert ok", role: "status" },
          `Schedule “${schedule.name}” created (${schedule.cron}, ${schedule.timezone}); next run ${CF.formatWhen(schedule.next_run_at, CF.timezone())}. `,
          CF.el("a", { href: "/schedules" }, "View Schedules")));
      } catch (problem) { CF.showProblem(form, problem); }
    });
  }

  document.querySelectorAll(".data-type").forEach((card) => {
    if (card.querySelector(".import-form")) wireImport(card);
    if (card.querySelector(".export-form")) wireExport(card);
  });
})();
