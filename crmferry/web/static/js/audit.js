/* Settings → Audit log: entries newest first, filtered by action, member and time,
   paged with "Older entries". */
"use strict";

(function () {
  const CF = window.CF;
  const form = document.getElementById("audit-filters");
  const table = document.getElementById("audit");
  const more = document.getElementById("audit-more");
  const errorBox = document.getElementById("audit-error");
  let next = null;

  function query(cursor) {
    const data = new FormData(form);
    const params = new URLSearchParams();
    if (data.get("action")) params.set("action", data.get("action"));
    if (data.get("actor")) params.set("actor", data.get("actor"));
    const since = CF.zonedToInstant(data.get("since"), CF.timezone());
    if (since !== null) params.set("since", new Date(since).toISOString());
    if (cursor) params.set("cursor", cursor);
    return `/audit?${params}`;
  }

  function details(entry) {
    return Object.entries(entry.details || {})
      .filter(([, v]) => v !== null && v !== "")
      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
  }

  function row(e) {
    const who = e.actor.email ? `${e.actor.name || e.actor.email} <${e.actor.email}>` : (e.actor.name || "CRM Ferry");
    const target = e.target_type === "job" ? CF.el("a", { href: `/jobs?job=${encodeURIComponent(e.target_id)}` }, `job ${e.target_id}`)
      : `${e.target_type || ""} ${e.target_id || ""}`;
    return CF.el("tr", { dataset: { action: e.action } },
      CF.el("td", {}, CF.formatWhen(e.at, CF.timezone())), CF.el("td", {}, who),
      CF.el("td", {}, CF.el("code", {}, e.action)), CF.el("td", {}, target), CF.el("td", {}, details(e)));
  }

  async function load(append) {
    try {
      const page = await CF.api("GET", query(append ? next : null));
      const rows = CF.items(page).map(row);
      if (append) table.tBodies[0].append(...rows); else table.tBodies[0].replaceChildren(...rows);
      next = page.next_cursor;
      more.hidden = !next;
      document.getElementById("no-entries").hidden = table.tBodies[0].rows.length > 0;
      CF.showError(errorBox, null);
    } catch (problem) { CF.showError(errorBox, problem); }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(false); });
  more.addEventListener("click", () => load(true));
  load(false);
})();
