/* The bell in the page header: the caller's unread notifications, kept live by the
   page's event stream (`notifications` events carry the new count). */
"use strict";

(function () {
  const CF = window.CF;
  const count = document.querySelector("[data-bell-count]");
  if (!count) return;
  const bell = count.closest(".bell");

  CF.setUnread = function (n) {
    count.textContent = String(n);
    count.hidden = !n;
    bell.setAttribute("aria-label", n ? `Notifications: ${n} unread` : "Notifications");
  };

  CF.api("GET", "/notifications?unread=true&limit=1")
    .then((data) => CF.setUnread(data.unread_count))
    .catch(() => { /* the bell stays quiet; the list page shows the problem */ });
  const source = CF.events();
  if (source) {
    source.addEventListener("notifications", (event) => {
      try { CF.setUnread(JSON.parse(event.data).unread_count); } catch (err) { /* ignored */ }
    });
  }
})();
