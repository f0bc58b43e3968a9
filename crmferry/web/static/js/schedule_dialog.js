/* The "Schedule for Later" dialog: a wall-clock time in the user's zone, at
   least the configured lead ahead, echoed in words; the server's refusal is
   shown inside the dialog. */
"use strict";

(function () {
  const CF = window.CF;
  const dialog = document.getElementById("schedule-dialog");
  if (!dialog) return;
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("#scheduled-time");
  const words = dialog.querySelector(".when-words");
  const what = dialog.querySelector(".schedule-what");
  const confirmButton = dialog.querySelector('[data-action="confirm"]');
  const done = dialog.querySelector(".dialog-done");
  const leadSeconds = Number(dialog.dataset.minLeadSeconds || 300);
  let submitHandler = null;

  function leadWords() {
    if (leadSeconds < 60) return `${leadSeconds} seconds`;
    const minutes = Math.ceil(leadSeconds / 60);
    return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  }

  /** The earliest allowed wall-clock minute: now + lead, rounded up to the next minute. */
  function earliest() {
    const ms = Math.ceil((Date.now() + leadSeconds * 1000) / 60000) * 60000;
    return CF.naiveLocal(ms, CF.timezone());
  }

  function echo() {
    const tz = CF.timezone();
    const instant = CF.zonedToInstant(input.value, tz);
    words.textContent = instant === null ? "Choose a date and time."
      : `${CF.formatWhen(instant, tz)} ${tz} — ${CF.relative(instant)}`;
  }

  function setBusy(busy) {
    confirmButton.disabled = busy;
    confirmButton.setAttribute("aria-busy", busy ? "true" : "false");
    confirmButton.textContent = busy ? "Scheduling…" : "Schedule Job";
  }

  /** Open for one job: `options.submit({scheduled_time, timezone})` creates it and returns it. */
  function open(options) {
    submitHandler = options.submit;
    what.textContent = options.what || "";
    CF.clearProblems(dialog);
    done.hidden = true;
    confirmButton.hidden = false;
    input.disabled = false;
    setBusy(false);
    const min = earliest();
    input.min = min;
    if (!input.value || input.value < min) input.value = min;
    dialog.querySelector(".lead-words").textContent = leadWords();
    dialog.querySelectorAll("[data-timezone-name]").forEach((el) => { el.textContent = CF.timezone(); });
    echo();
    dialog.showModal();
    input.focus();
  }

  async function submit(event) {
    event.preventDefault();
    CF.clearProblems(dialog);
    const tz = CF.timezone();
    if (!input.value) {
      CF.showProblem(dialog, { detail: "Choose when the job should run.", errors: [{ field: "scheduled_time", message: "Required." }] });
      return;
    }
    if (input.value < earliest()) {
      const message = `Choose a time at least ${leadWords()} from now (${earliest().replace("T", " ")} or later).`;
      CF.showProblem(dialog, { detail: message, errors: [{ field: "scheduled_time", message }] });
      return;
    }
    setBusy(true);
    try {
      const job = await submitHandler({ scheduled_time: `${input.value}:00`, timezone: tz });
      const when = job && job.scheduled_time ? CF.formatWhen(job.scheduled_time, tz) : input.value;
      done.querySelector(".alert").textContent = `Scheduled for ${when} ${tz}.`;
      done.hidden = false;
      confirmButton.hidden = true;
      input.disabled = true;
      done.querySelector("a").focus();
    } catch (problem) {
      CF.showProblem(dialog, problem);
    } finally {
      setBusy(false);
    }
  }

  input.addEventListener("input", echo);
  form.addEventListener("submit", submit);
  dialog.querySelector('[data-action="close"]').addEventListener("click", () => dialog.close());
  setInterval(() => { if (dialog.open) echo(); }, 15000);

  CF.scheduleDialog = { open };
})();
