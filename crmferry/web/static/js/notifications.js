/* Notifications page: the caller's notifications, newest first, with links to their
   jobs (or schedules); mark one or all read. */
"use strict";

(function () {
  const CF = window.CF;
  const list = document.getElementById("notifications");
  const empty = document.getElementById("no-notifications");
  const more = document.getElementById("more-notifications");
  const unreadOnly = document.getElementById("unread-only");
  const errorBox = document.querySelector("[data-form-error]");
  let cursor = null;

  function target(n) {
    if (n.job_id) return `/jobs?job=${encodeURIComponent(n.job_id)}`;
    if (n.schedule_id) return "/schedules";
    return null;
  }

  function item(n) {
    const href = target(n);
    const title = href ? CF.el("a", { href, class: "notification-title" }, n.title)
      : CF.el("span", { class: "notification-title" }, n.title);
    const read = CF.el("button", { type: "button", class: "link", hidden: Boolean(n.read_at), "data-testid": "mark-read" }, "Mark read");
    const li = CF.el("li", { class: n.read_at ? "read" : "unread", dataset: { notificationId: n.id } },
      CF.el("div", { class: "notification-text" }, title, n.body ? CF.el("div", { class: "muted" }, n.body) : ""),
      CF.el("time", { datetime: n.created_at }, CF.formatWhen(n.created_at, CF.timezone())), read);
    read.addEventListener("click", async () => {
      try {
        await CF.api("POST", `/notifications/${n.id}/read`);
        li.className = "read"; read.hidden = true;
        await refreshCount();
      } catch (p) { CF.showError(errorBox, p); }
    });
    return li;
  }

  async function refreshCount() {
    const data = await CF.api("GET", "/notifications?unread=true&limit=1");
    if (CF.setUnread) CF.setUnread(data.unread_count);
  }

  let generation = 0; // a reload started later wins over one still loading
  async function load(reset) {
    if (reset) { cursor = null; generation += 1; }
    const mine = generation;
    try {
      const q = `/notifications?limit=50${unreadOnly.checked ? "&unread=true" : ""}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const data = await CF.api("GET", q);
      if (mine !== generation) return;
      if (reset) list.replaceChildren();
      list.append(...CF.items(data).map(item));
      cursor = data.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
      if (CF.setUnread) CF.setUnread(data.unread_count);
    } catch (p) { CF.showError(errorBox, p); }
  }

  document.getElementById("read-all").addEventListener("click", async () => {
    try { await CF.api("POST", "/notifications/read-all"); await load(true); } catch (p) { CF.showError(errorBox, p); }
  });
  more.addEventListener("click", () => load(false));
  unreadOnly.addEventListener("change", () => load(true));
  const source = CF.events();
  if (source) source.addEventListener("notifications", () => { if (!cursor) load(true); });
  load(true);
})();
