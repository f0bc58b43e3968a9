"""An import's options, checked once at job creation and read back by the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, cast

from crmferry.errors import ValidationFailed
from crmferry.imports.reading_choices import header_row_of, last_row_of

MAX_SHEET = 255

Mode = Literal["insert", "update", "upsert"]
OnError = Literal["skip", "abort"]
DateFormat = Literal["auto", "YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY"]
DecimalMark = Literal[".", ","]
BlankCells = Literal["clear", "keep"]

MODES: tuple[Mode, ...] = ("insert", "update", "upsert")
ON_ERROR: tuple[OnError, ...] = ("skip", "abort")
DATE_FORMATS: tuple[DateFormat, ...] = ("auto", "YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY")
DECIMAL_MARKS: tuple[DecimalMark, ...] = (".", ",")
BLANK_CELLS: tuple[BlankCells, ...] = ("clear", "keep")
MAX_MAP_VALUES = 1000


@dataclass(frozen=True)
class ImportOptions:
    """How rows are matched and written, and what a bad row does.

    `defaults` (field → value as text) fill a field whose cell is empty or that no
    column is mapped to: on insert always, on update only with `defaults_on_update`.
    `blank_cells`: `clear` empties a field whose cell is empty (the field's own default,
    if it has one, as on insert); `keep` leaves an existing record's value alone.
    `value_maps` (field → {their value: ours}) rewrite cells before they are checked,
    their values matched trimmed and case-insensitively. Whether the fields and values
    fit the data type is `option_checks`' job.
    """

    mode: Mode = "upsert"
    on_error: OnError = "skip"
    dry_run: bool = False
    date_format: DateFormat = "auto"
    decimal: DecimalMark = "."
    defaults: dict[str, str] = field(default_factory=dict)
    defaults_on_update: bool = False
    blank_cells: BlankCells = "clear"
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    header_row: int | None = None  # the file's header row, when not the upload's
    sheet: str | None = None  # a workbook's sheet, when not the upload's
    last_row: int | None = None  # the file's last data row, when not the upload's

    def as_dict(self) -> dict[str, Any]:
        """The options as stored; the reading ones only when chosen (else the upload's)."""
        options = asdict(self)
        for key in _READING_KEYS:
            if options[key] is None:
                del options[key]
        return options


OPTION_KEYS = tuple(f.name for f in fields(ImportOptions))
_READING_KEYS = ("header_row", "sheet", "last_row")


def refuse_unknown_options(raw: dict[str, Any], also: tuple[str, ...] = ()) -> None:
    """422 naming each key of `raw` that is no import option (nor one of `also`): what a
    schedule stores must have been checked."""
    unknown = sorted(set(raw) - set(OPTION_KEYS) - set(also))
    if unknown:
        message = f"unknown option; use {', '.join(OPTION_KEYS)}"
        errors: list[dict[str, object]] = [
            {"field": f"options.{key}", "message": message} for key in unknown
        ]
        raise ValidationFailed(f"options.{unknown[0]}: {message}.", errors)


def _choice(raw: dict[str, Any], name: str, allowed: tuple[str, ...], errors: list[Any]) -> Any:
    value = raw.get(name)
    if value is None:
        return None
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        errors.append({"field": f"options.{name}", "message": f"must be one of {shown}"})
    return value


def parse_import_options(raw: dict[str, Any] | None) -> ImportOptions:
    """Options from a request body (defaults filled in); ValidationFailed names each bad one.

    Keys this kind does not know are ignored, so the engine may add its own.
    """
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ValidationFailed(
            "options must be an object", [{"field": "options", "message": "must be an object"}]
        )
    errors: list[dict[str, object]] = []
    mode = _choice(raw, "mode", MODES, errors)
    on_error = _choice(raw, "on_error", ON_ERROR, errors)
    date_format = _choice(raw, "date_format", DATE_FORMATS, errors)
    mark = _choice(raw, "decimal", DECIMAL_MARKS, errors)
    blank = _choice(raw, "blank_cells", BLANK_CELLS, errors)
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        errors.append({"field": "options.dry_run", "message": "must be true or false"})
    on_update = raw.get("defaults_on_update", False)
    if not isinstance(on_update, bool):
        errors.append({"field": "options.defaults_on_update", "message": "must be true or false"})
    defaults_given = _text_map(raw.get("defaults"), "options.defaults", errors)
    value_maps = _value_maps(raw.get("value_maps"), errors)
    header_row, sheet, last_row = _reading(raw, errors)
    if errors:
        summary = "; ".join(f"{e['field']} {e['message']}" for e in errors)
        raise ValidationFailed(f"The import options are not valid: {summary}.", errors)
    defaults = ImportOptions()
    return ImportOptions(
        mode=cast(Mode, mode or defaults.mode),
        on_error=cast(OnError, on_error or defaults.on_error),
        dry_run=bool(dry_run),
        date_format=cast(DateFormat, date_format or defaults.date_format),
        decimal=cast(DecimalMark, mark or defaults.decimal),
        defaults=defaults_given,
        defaults_on_update=bool(on_update),
        blank_cells=cast(BlankCells, blank or defaults.blank_cells),
        value_maps=value_maps,
        header_row=header_row,
        sheet=sheet,
        last_row=last_row,
    )


def _scalar_text(value: object) -> str | None:
    """A JSON scalar as the text of a cell (true/false, numbers as written); None for
    anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _text_map(raw: object, where: str, errors: list[dict[str, object]]) -> dict[str, str]:
    """An object of name → scalar, as text; each bad entry named in `errors`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_MAP_VALUES:
        errors.append({"field": where, "message": f"must be an object (at most {MAX_MAP_VALUES})"})
        return {}
    result: dict[str, str] = {}
    for key, value in raw.items():
        text = _scalar_text(value)
        if text is None:
            errors.append(
                {"field": f"{where}.{key}", "message": "must be text, a number or true/false"}
            )
        else:
            result[str(key)] = text
    return result


def _value_maps(raw: object, errors: list[dict[str, object]]) -> dict[str, dict[str, str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append(
            {"field": "options.value_maps", "message": 'must be {"field": {"theirs": "ours"}}'}
        )
        return {}
    return {str(f): _text_map(m, f"options.value_maps.{f}", errors) for f, m in raw.items()}


def _reading(raw: dict[str, Any], errors: list[Any]) -> tuple[int | None, str | None, int | None]:
    """The `header_row`, `sheet` and `last_row` options (None when absent), each error
    appended."""
    header_row = last_row = None
    try:
        header_row = header_row_of(raw.get("header_row"), "options.header_row")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    try:
        last_row = last_row_of(raw.get("last_row"), "options.last_row")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    sheet = raw.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or not 0 < len(sheet) <= MAX_SHEET):
        errors.append({"field": "options.sheet", "message": "must be a sheet's name"})
        sheet = None
    return header_row, sheet, last_row
