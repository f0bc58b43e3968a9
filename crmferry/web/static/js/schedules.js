/* Schedules page: list with next and last run; create, edit, pause/resume, run now, delete. */
"use strict";

(function () {
  const CF = window.CF;
  const table = document.getElementById("schedules");
  const errorBox = document.getElementById("schedules-error");
  const form = document.getElementById("schedule-form");
  let schedules = [];
  let edit = () => {};

  const showError = (problem) => CF.showError(errorBox, problem);

  async function act(method, path, body, confirmText) {
    const result = await CF.act(errorBox, method, path, body, confirmText);
    if (result !== undefined) await load();
    return result;
  }

  function when(iso) { return iso ? CF.formatWhen(iso, CF.timezone()) : "—"; }

  function row(s) {
    const cells = [
      CF.el("td", {}, s.name), CF.el("td", {}, `${s.job_type} ${s.data_type}`),
      CF.el("td", {}, CF.el("code", {}, s.cron), ` (${s.timezone})`),
      CF.el("td", {}, s.enabled ? when(s.next_run_at) : "—"), CF.el("td", {}, when(s.last_run_at)),
      CF.el("td", { "data-testid": "schedule-owner" }, s.owner_name || "a former member"),
      CF.el("td", {}, s.enabled ? CF.badge("completed", "Enabled") : CF.badge("cancelled", "Paused"),
        s.paused_reason ? CF.el("span", { class: "muted paused-reason" }, " " + s.paused_reason) : "",
        s.consecutive_failures ? CF.el("span", { class: "muted" }, ` · ${s.consecutive_failures} failed in a row`) : ""),
    ];
    if (CF.canWrite()) {
      cells.push(CF.el("td", { class: "row-actions" },
        CF.el("button", { type: "button", onclick: () => edit(s) }, "Edit"),
        CF.el("button", { type: "button", onclick: () => act("PATCH", `/schedules/${s.id}`, { enabled: !s.enabled }) }, s.enabled ? "Pause" : "Resume"),
        CF.el("button", { type: "button", onclick: async () => {
          const job = await act("POST", `/schedules/${s.id}/run`);
          if (job && job.job_type === "export" && job.id) CF.trackExport(job.id);
          if (job) showRan(s);
        } }, "Run now"),
        CF.el("button", { type: "button", class: "danger", onclick: () => act("DELETE", `/schedules/${s.id}`, undefined, `Delete the schedule “${s.name}”? Jobs it already made stay.`) }, "Delete")));
    }
    return CF.el("tr", { dataset: { scheduleId: s.id } }, cells);
  }

  function showRan(s) {
    const status = document.querySelector(".status") || errorBox;
    status.replaceChildren(`“${s.name}” started. `, CF.el("a", { href: "/jobs" }, "View Scheduled Jobs"));
  }

  async function load() {
    try {
      schedules = CF.items(await CF.api("GET", "/schedules"));
      table.tBodies[0].replaceChildren(...schedules.map(row));
      table.closest(".card").querySelector(".empty").hidden = schedules.length > 0;
    } catch (problem) { showError(problem); }
  }

  if (form) {
    const field = (name) => form.querySelector(`[name="${name}"]`);
    const toggleKind = () => {
      const isImport = field("job_type").value === "import";
      form.querySelectorAll(".for-import").forEach((el) => { el.hidden = !isImport; });
      form.querySelectorAll(".for-export").forEach((el) => { el.hidden = isImport; });
    };
    const resetForm = () => {
      form.reset();
      field("id").value = "";
      field("timezone").value = CF.timezone();
      field("job_type").disabled = false;
      field("data_type").disabled = false;
      document.getElementById("form-title").textContent = "New schedule";
      document.getElementById("save-schedule").textContent = "Create schedule";
      document.getElementById("cancel-edit").hidden = true;
      CF.clearProblems(form);
      toggleKind();
    };
    /** An export schedule's options: the format, and "only changes since the last run". */
    function exportOptions(kept) {
      const options = { ...kept, format: field("format").value };
      if (field("changes_only").checked) options.changed_since = "last_run";
      else if (options.changed_since === "last_run") delete options.changed_since;
      return options;
    }
    field("job_type").addEventListener("change", toggleKind);
    document.getElementById("cancel-edit").addEventListener("click", resetForm);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      CF.clearProblems(form);
      const id = field("id").value;
      const isImport = field("job_type").value === "import";
      const body = { name: field("name").value.trim(), cron: field("cron").value.trim(), timezone: field("timezone").value.trim(), enabled: field("enabled").checked };
      if (!id) {
        Object.assign(body, { job_type: field("job_type").value, data_type: field("data_type").value });
        body.options = isImport ? { mode: field("mode").value } : exportOptions({});
        if (isImport) body.source = { type: "url", url: field("url").value.trim() };
      } else {
        body.options = isImport ? { ...(form.editing.options || {}), mode: field("mode").value } : exportOptions(form.editing.options || {});
        if (isImport) body.source = { type: "url", url: field("url").value.trim() };
      }
      try {
        const saved = await CF.api(id ? "PATCH" : "POST", id ? `/schedules/${id}` : "/schedules", body);
        resetForm();
        form.querySelector(".status").textContent = `Saved “${saved.name}”; next run ${when(saved.next_run_at)}.`;
        load();
      } catch (problem) { CF.showProblem(form, problem); }
    });
    resetForm();
    edit = function (s) {
      form.editing = s;
      field("id").value = s.id;
      field("name").value = s.name;
      field("job_type").value = s.job_type;
      field("job_type").disabled = true;
      field("data_type").value = s.data_type;
      field("data_type").disabled = true;
      field("cron").value = s.cron;
      field("timezone").value = s.timezone;
      field("enabled").checked = s.enabled;
      if (s.options && s.options.format) field("format").value = s.options.format;
      if (s.options && s.options.mode) field("mode").value = s.options.mode;
      field("changes_only").checked = Boolean(s.options && s.options.changed_since === "last_run");
      if (s.source && s.source.url) field("url").value = s.source.url;
      toggleKind();
      document.getElementById("form-title").textContent = `Edit “${s.name}”`;
      document.getElementById("save-schedule").textContent = "Save changes";
      document.getElementById("cancel-edit").hidden = false;
      field("name").focus();
    };
  }
  load();
})();
