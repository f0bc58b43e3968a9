/* Settings page: the user's time zone and password; members, invitations, roles and API
   tokens (admins). */
"use strict";

(function () {
  const CF = window.CF;
  const browserTz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  document.getElementById("tz-browser").textContent = `This browser's time zone (${browserTz})`;

  const tzForm = document.getElementById("timezone-form");
  tzForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    CF.clearProblems(tzForm);
    const value = tzForm.querySelector("select").value || null;
    try {
      await CF.api("PATCH", "/me", { timezone: value });
      if (value) document.body.dataset.userTimezone = value; else delete document.body.dataset.userTimezone;
      tzForm.querySelector(".status").textContent = `Saved: times are shown in ${CF.timezone()}.`;
    } catch (problem) { CF.showProblem(tzForm, problem); }
  });

  const notifyForm = document.getElementById("notify-form");
  notifyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    CF.clearProblems(notifyForm);
    try {
      const me = await CF.api("PATCH", "/me", { notify: notifyForm.querySelector("select").value });
      notifyForm.querySelector(".status").textContent = `Saved: ${me.notify === "none" ? "you are told of nothing" : me.notify === "all" ? "you are told of every outcome" : "you are told of failures"}.`;
    } catch (problem) { CF.showProblem(notifyForm, problem); }
  });

  const passwordForm = document.getElementById("password-form");
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    CF.clearProblems(passwordForm);
    const data = Object.fromEntries(new FormData(passwordForm));
    const status = passwordForm.querySelector(".status");
    status.textContent = "";
    if (data.new_password !== data.repeat_password) {
      CF.showProblem(passwordForm, { detail: "The new passwords differ.", errors: [{ field: "repeat_password", message: "does not match the new password" }] });
      return;
    }
    try {
      const changed = await CF.api("POST", "/me/password", { current_password: data.current_password, new_password: data.new_password });
      passwordForm.reset();
      const others = changed.sessions_ended;
      status.textContent = `Password changed${others ? `; ${others} other session${others === 1 ? "" : "s"} signed out` : ""}.`;
    } catch (problem) { CF.showProblem(passwordForm, problem); }
  });

  const membersTable = document.getElementById("members");
  if (!membersTable) return;

  const boxError = (id, problem) => CF.showError(document.getElementById(id), problem);

  async function loadMembers() {
    try {
      const members = CF.items(await CF.api("GET", "/members"));
      membersTable.tBodies[0].replaceChildren(...members.map((m) => {
        const id = `role-${m.id}`;
        const select = CF.el("select", { id }, ["viewer", "member", "admin"].map((r) => CF.el("option", { value: r, selected: r === m.role }, r)));
        select.addEventListener("change", async () => {
          try { await CF.api("PATCH", `/members/${m.id}`, { role: select.value }); boxError("members-error", null); }
          catch (problem) { boxError("members-error", problem); select.value = m.role; }
        });
        const remove = CF.el("button", { type: "button", class: "danger", onclick: async () => {
          if (!window.confirm(`Remove ${m.email} from the organization? Their tokens stop working.`)) return;
          try { await CF.api("DELETE", `/members/${m.id}`); loadMembers(); loadTokens(); }
          catch (problem) { boxError("members-error", problem); }
        } }, "Remove");
        return CF.el("tr", { dataset: { email: m.email } }, CF.el("td", {}, m.email), CF.el("td", {}, m.name || ""),
          CF.el("td", {}, CF.el("label", { for: id, class: "sr-only" }, `Role of ${m.email}`), select), CF.el("td", {}, remove));
      }));
    } catch (problem) { boxError("members-error", problem); }
  }

  const tokensTable = document.getElementById("tokens");
  async function loadTokens() {
    try {
      const tokens = CF.items(await CF.api("GET", "/tokens"));
      tokensTable.tBodies[0].replaceChildren(...tokens.map((t) => CF.el("tr", { dataset: { tokenId: t.id } },
        CF.el("td", {}, t.name || "—"), CF.el("td", {}, CF.el("code", {}, `${t.prefix}…`)), CF.el("td", {}, t.user_email),
        CF.el("td", {}, CF.formatWhen(t.created_at, CF.timezone())),
        CF.el("td", {}, t.last_used_at ? CF.formatWhen(t.last_used_at, CF.timezone()) : "never"),
        CF.el("td", {}, t.revoked_at ? CF.badge("cancelled", "Revoked")
          : CF.el("button", { type: "button", class: "danger", onclick: async () => {
            if (!window.confirm(`Revoke the token “${t.name || t.prefix}”? Programs using it stop working at once.`)) return;
            try { await CF.api("DELETE", `/tokens/${t.id}`); loadTokens(); } catch (problem) { boxError("tokens-error", problem); }
          } }, "Revoke")))));
    } catch (problem) { boxError("tokens-error", problem); }
  }

  const invitationsTable = document.getElementById("invitations");
  async function loadInvitations() {
    try {
      const pending = CF.items(await CF.api("GET", "/invitations"));
      document.getElementById("no-invitations").hidden = pending.length > 0;
      invitationsTable.tBodies[0].replaceChildren(...pending.map((i) => CF.el("tr", { dataset: { invitationId: i.id } },
        CF.el("td", {}, i.email), CF.el("td", {}, i.role), CF.el("td", {}, i.invited_by || ""),
        CF.el("td", {}, i.status === "expired" ? CF.el("span", { class: "badge cancelled" }, "Expired") : CF.formatWhen(i.expires_at, CF.timezone())),
        CF.el("td", {}, CF.el("button", { type: "button", class: "danger", onclick: async () => {
          if (!window.confirm(`Revoke the invitation of ${i.email}? Its link stops working.`)) return;
          try { await CF.api("DELETE", `/invitations/${i.id}`); loadInvitations(); }
          catch (problem) { boxError("invitations-error", problem); }
        } }, "Revoke")))));
      boxError("invitations-error", null);
    } catch (problem) { boxError("invitations-error", problem); }
  }

  const memberForm = document.getElementById("member-form");
  memberForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    CF.clearProblems(memberForm);
    const data = Object.fromEntries(new FormData(memberForm));
    try {
      const invited = await CF.api("POST", "/members", data);
      document.getElementById("new-invitation-email").textContent = invited.email;
      document.getElementById("new-invitation-url").textContent = invited.invite_url;
      document.getElementById("new-invitation").hidden = false;
      memberForm.reset();
      loadInvitations();
    } catch (problem) { CF.showProblem(memberForm, problem); }
  });
  document.getElementById("copy-invitation").addEventListener("click", () => {
    navigator.clipboard && navigator.clipboard.writeText(document.getElementById("new-invitation-url").textContent);
  });

  const tokenForm = document.getElementById("token-form");
  tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    CF.clearProblems(tokenForm);
    const data = Object.fromEntries(new FormData(tokenForm));
    if (!data.email) delete data.email;
    try {
      const created = await CF.api("POST", "/tokens", data);
      document.getElementById("new-token-value").textContent = created.token;
      document.getElementById("new-token").hidden = false;
      tokenForm.reset();
      loadTokens();
    } catch (problem) { CF.showProblem(tokenForm, problem); }
  });
  document.getElementById("copy-token").addEventListener("click", () => {
    navigator.clipboard && navigator.clipboard.writeText(document.getElementById("new-token-value").textContent);
  });

  loadMembers();
  loadInvitations();
  loadTokens();
})();
