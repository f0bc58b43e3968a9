/* Settings → Webhooks: endpoints (add, enable/disable, test, rotate the secret, delete),
   the secret shown once, and an endpoint's deliveries with replay. */
"use strict";

(function () {
  const CF = window.CF;
  const table = document.getElementById("webhooks");
  const errorBox = document.getElementById("webhooks-error");
  const deliveriesCard = document.getElementById("deliveries-card");
  const deliveriesTable = document.getElementById("deliveries");
  const deliveriesError = document.getElementById("deliveries-error");
  let shown = null; // the endpoint whose deliveries are shown

  function showSecret(hook) {
    document.getElementById("new-secret-url").textContent = hook.url;
    document.getElementById("new-secret-value").textContent = hook.secret;
    document.getElementById("new-secret").hidden = false;
  }

  function state(hook) {
    if (hook.enabled) return CF.badge("completed", "Enabled");
    return CF.el("span", {}, CF.badge("failed", "Disabled"), " ", hook.disabled_reason || "");
  }

  function button(label, onclick, cls) {
    return CF.el("button", { type: "button", class: cls || null, onclick }, label);
  }

  function actions(hook) {
    return CF.el("td", { class: "actions" },
      button("Deliveries", () => showDeliveries(hook)),
      button("Send test", async () => {
        if (await CF.act(errorBox, "POST", `/webhooks/${hook.id}/test`) !== undefined) showDeliveries(hook, true);
      }),
      button("Rotate secret", async () => {
        const rotated = await CF.act(errorBox, "POST", `/webhooks/${hook.id}/rotate-secret`, undefined,
          "Make a new signing secret? The current one keeps signing beside it for 24 hours.");
        if (rotated) { showSecret(rotated); load(); }
      }),
      button(hook.enabled ? "Disable" : "Enable", async () => {
        if (await CF.act(errorBox, "PATCH", `/webhooks/${hook.id}`, { enabled: !hook.enabled }) !== undefined) load();
      }),
      button("Delete", async () => {
        const done = await CF.act(errorBox, "DELETE", `/webhooks/${hook.id}`, undefined,
          `Delete the endpoint ${hook.url} and its delivery log?`);
        if (done !== undefined) { if (shown && shown.id === hook.id) deliveriesCard.hidden = true; load(); }
      }, "danger"));
  }

  async function load() {
    try {
      const hooks = CF.items(await CF.api("GET", "/webhooks"));
      document.getElementById("no-webhooks").hidden = hooks.length > 0;
      table.tBodies[0].replaceChildren(...hooks.map((h) => CF.el("tr", { dataset: { webhookId: h.id } },
        CF.el("td", {}, CF.el("code", {}, h.url), h.description ? CF.el("div", { class: "muted" }, h.description) : null),
        CF.el("td", {}, h.events.join(", ")), CF.el("td", {}, state(h)), actions(h))));
      CF.showError(errorBox, null);
    } catch (problem) { CF.showError(errorBox, problem); }
  }

  function deliveryRow(d) {
    const tone = { succeeded: "completed", retrying: "pending", failed: "failed" }[d.status];
    const answer = d.response_status ? `HTTP ${d.response_status}` : (d.error || "");
    return CF.el("tr", { dataset: { deliveryId: d.id, status: d.status } },
      CF.el("td", {}, CF.formatWhen(d.created_at, CF.timezone())),
      CF.el("td", {}, CF.el("code", {}, d.event_type), d.replay ? " (replay)" : ""),
      CF.el("td", {}, String(d.attempt)), CF.el("td", {}, CF.badge(tone, d.status)),
      CF.el("td", { title: d.response_excerpt || "" }, answer),
      CF.el("td", {}, d.duration_ms === null ? "" : `${d.duration_ms} ms`),
      CF.el("td", {}, d.next_attempt_at ? CF.formatWhen(d.next_attempt_at, CF.timezone()) : ""),
      CF.el("td", {}, button("Replay", async () => {
        if (await CF.act(deliveriesError, "POST", `/webhooks/${shown.id}/deliveries/${d.id}/replay`) !== undefined) {
          refreshSoon();
        }
      })));
  }

  async function showDeliveries(hook, soon) {
    shown = hook;
    deliveriesCard.hidden = false;
    document.getElementById("deliveries-url").textContent = hook.url;
    await loadDeliveries();
    if (soon) refreshSoon();
  }

  async function loadDeliveries() {
    if (!shown) return;
    try {
      const items = CF.items(await CF.api("GET", `/webhooks/${shown.id}/deliveries`));
      document.getElementById("no-deliveries").hidden = items.length > 0;
      deliveriesTable.tBodies[0].replaceChildren(...items.map(deliveryRow));
      CF.showError(deliveriesError, null);
    } catch (problem) { CF.showError(deliveriesError, problem); }
  }

  // a test or a replay is sent by a worker within seconds: look again a few times
  function refreshSoon() {
    [1000, 3000, 6000].forEach((ms) => setTimeout(loadDeliveries, ms));
  }

  document.getElementById("refresh-deliveries").addEventListener("click", loadDeliveries);

  const form = document.getElementById("webhook-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    CF.clearProblems(form);
    const data = new FormData(form);
    const body = { url: data.get("url"), events: data.getAll("events"), description: data.get("description") || "" };
    try {
      const created = await CF.api("POST", "/webhooks", body);
      showSecret(created);
      form.reset();
      load();
    } catch (problem) { CF.showProblem(form, problem); }
  });
  document.getElementById("copy-secret").addEventListener("click", () => {
    navigator.clipboard && navigator.clipboard.writeText(document.getElementById("new-secret-value").textContent);
  });

  load();
})();
