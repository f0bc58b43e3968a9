/* The mapping step of an import: each column's field, sample values and the note the
   suggestion left; value maps of enum fields; defaults and the blank-cell rule; and the
   first rows' problems (POST /uploads/{id}/check) before the import starts. */
"use strict";

(function () {
  const CF = window.CF;
  const SAMPLES = 3;

  // what a column may be mapped to: the importable fields, the lookups, a record id
  function targetOptions(type, selected) {
    const options = [CF.el("option", { value: "" }, "— skip this column —")];
    for (const f of type.fields.filter((field) => !field.computed)) {
      options.push(CF.el("option", { value: f.name, selected: f.name === selected }, f.label + (f.required ? " *" : "") + (f.key ? " (key)" : "")));
    }
    for (const l of type.lookups || []) {
      options.push(CF.el("option", { value: l.name, selected: l.name === selected }, l.label));
    }
    options.push(CF.el("option", { value: "id", selected: selected === "id" }, "Record id (of an earlier export)"));
    return options;
  }

  function columnValues(upload, index) {
    const seen = new Set();
    for (const row of upload.preview || []) {
      const value = String(row[index] ?? "").trim();
      if (value) seen.add(value);
    }
    return [...seen];
  }

  function mappingRow(card, upload, type, header, index) {
    const id = `map-${type.name}-${index}`;
    const suggested = (upload.suggested_mapping || {})[header] || "";
    const note = (upload.mapping_notes || {})[header];
    const sample = columnValues(upload, index).slice(0, SAMPLES);
    const select = CF.el("select", { id, "data-header": header, "aria-describedby": `${id}-sample` }, targetOptions(type, suggested));
    select.addEventListener("change", () => renderValueMaps(card, upload, type));
    return CF.el("div", { class: "mapping-row", "data-testid": "mapping-row" },
      CF.el("label", { for: id }, header),
      select,
      CF.el("p", { class: "mapping-sample muted", id: `${id}-sample` }, sample.length ? `e.g. ${sample.join(" · ")}` : "(empty in the first rows)"),
      note ? CF.el("p", { class: "mapping-note", "data-testid": "mapping-note" }, note) : null);
  }

  function render(card, upload, type) {
    card.valueMaps = JSON.parse(JSON.stringify((upload.suggested_options || {}).value_maps || {}));
    card.querySelector(".mapping-rows").replaceChildren(...upload.headers.map((h, i) => mappingRow(card, upload, type, h, i)));
    card.querySelector(".defaults-rows").replaceChildren();
    renderValueMaps(card, upload, type);
    card.querySelector(".check-result").replaceChildren();
  }

  function mapping(card) {
    const result = {};
    card.querySelectorAll(".mapping-rows select").forEach((s) => { if (s.value) result[s.dataset.header] = s.value; });
    return result;
  }

  /* Value maps: for each enum field a column is mapped to, their values → ours. ------- */

  function renderValueMaps(card, upload, type) {
    const box = card.querySelector(".value-maps");
    const tables = [];
    for (const [header, name] of Object.entries(mapping(card))) {
      const field = type.fields.find((f) => f.name === name);
      if (!field || field.type !== "enum") continue;
      const known = new Set(field.choices);
      const theirs = new Set(Object.keys(card.valueMaps[name] || {}));
      columnValues(upload, upload.headers.indexOf(header)).filter((v) => !known.has(v.toLowerCase())).forEach((v) => theirs.add(v));
      if (!theirs.size) continue;
      tables.push(valueMapTable(card, field, header, [...theirs]));
    }
    box.querySelector(".value-map-tables").replaceChildren(...tables);
    box.hidden = tables.length === 0;
  }

  function valueMapTable(card, field, header, theirs) {
    const rows = theirs.map((value, i) => {
      const id = `vm-${field.name}-${i}-${Math.random().toString(36).slice(2, 6)}`;
      const current = (card.valueMaps[field.name] || {})[value] || "";
      const select = CF.el("select", { id, "data-their-value": value },
        CF.el("option", { value: "" }, "— as it is —"),
        field.choices.map((c) => CF.el("option", { value: c, selected: c === current }, c)));
      select.addEventListener("change", () => {
        const map = card.valueMaps[field.name] || (card.valueMaps[field.name] = {});
        if (select.value) map[value] = select.value; else delete map[value];
      });
      return CF.el("tr", {}, CF.el("td", {}, CF.el("label", { for: id }, value)), CF.el("td", {}, select));
    });
    return CF.el("table", { class: "value-map", "data-field": field.name },
      CF.el("caption", {}, `${header} → ${field.label}`),
      CF.el("thead", {}, CF.el("tr", {}, CF.el("th", { scope: "col" }, "Their value"), CF.el("th", { scope: "col" }, `Our ${field.label.toLowerCase()}`))),
      CF.el("tbody", {}, rows));
  }

  /* Defaults: a field and its value, filled where a cell is empty or not mapped. ------- */

  function defaultRow(type, name, value) {
    const n = Math.random().toString(36).slice(2, 8);
    const fields = type.fields.filter((f) => !f.computed && !f.key);
    const row = CF.el("div", { class: "default-row" },
      CF.el("label", { for: `df-${n}`, class: "sr-only" }, "Field"),
      CF.el("select", { id: `df-${n}`, class: "default-field" }, fields.map((f) => CF.el("option", { value: f.name, selected: f.name === name }, f.label))),
      CF.el("label", { for: `dv-${n}`, class: "sr-only" }, "Default value"),
      CF.el("input", { id: `dv-${n}`, class: "default-value", value: value ?? "", placeholder: "value" }),
      CF.el("button", { type: "button", class: "link", onclick: () => row.remove() }, "Remove"));
    return row;
  }

  function options(card) {
    const form = card.querySelector(".import-form");
    const defaults = {};
    form.querySelectorAll(".default-row").forEach((row) => {
      const value = row.querySelector(".default-value").value;
      if (value.trim()) defaults[row.querySelector(".default-field").value] = value;
    });
    const valueMaps = {};
    const mapped = new Set(Object.values(mapping(card)));
    for (const [name, map] of Object.entries(card.valueMaps || {})) {
      if (mapped.has(name) && Object.keys(map).length) valueMaps[name] = map;
    }
    // only what differs from the defaults, so that a plain import sends what it always did
    const chosen = {};
    if (Object.keys(defaults).length) chosen.defaults = defaults;
    if (Object.keys(valueMaps).length) chosen.value_maps = valueMaps;
    const blank = form.querySelector('[name="blank_cells"]').value;
    if (blank !== "clear") chosen.blank_cells = blank;
    if (form.querySelector('[name="defaults_on_update"]').checked) chosen.defaults_on_update = true;
    return chosen;
  }

  function applyOptions(card, type, saved) {
    const form = card.querySelector(".import-form");
    const rows = form.querySelector(".defaults-rows");
    rows.replaceChildren(...Object.entries(saved.defaults || {}).map(([name, value]) => defaultRow(type, name, value)));
    if (saved.value_maps) card.valueMaps = JSON.parse(JSON.stringify(saved.value_maps));
    form.querySelector('[name="defaults_on_update"]').checked = Boolean(saved.defaults_on_update);
    if (saved.blank_cells) form.querySelector('[name="blank_cells"]').value = saved.blank_cells;
    renderValueMaps(card, card.upload, type);
  }

  /* The first rows' problems. -------------------------------------------------------- */

  async function check(card, body) {
    const out = card.querySelector(".check-result");
    out.replaceChildren(CF.el("p", { class: "muted" }, "Checking the first rows…"));
    try {
      const result = await CF.api("POST", `/uploads/${card.upload.id}/check`, body);
      out.replaceChildren(checkSummary(result), ...(result.errors.length ? [errorTable(result)] : []));
    } catch (problem) {
      out.replaceChildren(CF.el("p", { class: "alert error", role: "alert" }, problem.detail));
    }
  }

  function checkSummary(result) {
    const c = result.counts;
    const tone = c.failed ? "alert error" : "alert ok";
    return CF.el("p", { class: tone, "data-testid": "check-summary" },
      `First ${result.rows_checked} rows: ${c.inserted} would be inserted, ${c.updated} updated, ${c.unchanged} unchanged, ` +
      `${c.skipped} skipped, ${c.failed} with problems.` + (result.errors_truncated ? " Only the first 500 problems are shown." : ""));
  }

  function errorTable(result) {
    return CF.el("div", { class: "table-scroll" }, CF.el("table", { class: "check-errors", "data-testid": "check-errors" },
      CF.el("caption", { class: "sr-only" }, "Problems of the first rows"),
      CF.el("thead", {}, CF.el("tr", {}, ["Row", "Column", "Value", "Problem"].map((h) => CF.el("th", { scope: "col" }, h)))),
      CF.el("tbody", {}, result.errors.map((e) => CF.el("tr", {},
        CF.el("td", {}, String(e.row_number)), CF.el("td", {}, e.column || e.field), CF.el("td", {}, e.value), CF.el("td", {}, e.message))))));
  }

  function wire(card, type, bodyFor) {
    const form = card.querySelector(".import-form");
    form.querySelector(".add-default").addEventListener("click", () => form.querySelector(".defaults-rows").append(defaultRow(type, null, "")));
    form.querySelector('[data-action="check"]').addEventListener("click", () => check(card, bodyFor()));
  }

  CF.mappingStep = { render, mapping, options, applyOptions, check, wire };
})();
