"""What every layer shares and nothing else: the package's error root and the one reader and
validator set that settings, station, element and scenario files (and command-line values) all go
through. Imports nothing from the rest of lambdarig.

Errors (lambdarig.common.errors)
    LambdarigError                  root of every error the package raises on purpose
    InputError(LambdarigError, ValueError)
        InputError(source, field, problem, *, allowed=None, suggestions=())
        .source .field .problem .allowed .suggestions; .replace(**parts) re-roots a field
        str(): "settings.toml: heater.target_temp_ce: unknown key (allowed: ...; did you mean 'target_temp_c'?)"
        Subclasses (SettingsError, EmulatorInputError, StationError) take the same five parts as
        keywords; every reader below takes `error=` the subclass to raise.
    nearest(name, candidates) -> tuple of the closest valid names (difflib, case-insensitive)

Files (lambdarig.common.toml_file)
    read_toml_file(path, source=None, *, error=InputError) -> dict
        missing file, directory, FIFO/device (refused by type, never opened to wait), non-UTF-8
        (byte and line), TOML syntax (tomllib's line and column), nesting too deep (RecursionError),
        integers past the digit limit: all InputError(source, "file", ...).
    parse_toml_text(text, source, *, error=InputError) -> dict   (the same, for text in hand)

Tables (lambdarig.common.tables)
    TableReader(table, source, prefix="", *, error=InputError, keys=None)
        .number(key, lo, hi, default=REQUIRED, unit="", lo_open=False, also="")   .optional_number(key, lo, hi, unit)
        .integer(key, lo, hi, default)
        .boolean(key, default)   .text(key, choices=None, default)   .value(key, default) (raw)
        .sub(key, required=True, keys=None) -> TableReader | None   (nested table, fields "key.sub")
        .tables(key, required=True, keys=None) -> [TableReader]     ([[key]] entries, fields "key[i].sub")
        .at(key) -> Place   .has(key)   .finish(): refuses keys nothing took, with suggestions
        keys=: the table's keys known up front: unknown keys refused at once (a misspelt required
        key is then an unknown key with a suggestion, not a missing one); finish() then refuses a
        known key nothing read ("does not apply here").

Validators (lambdarig.common.validators), for values from anywhere
    Place(source, field, error=InputError): where a value came from; .refuse(problem, allowed=, suggestions=)
        .key(name) / .item(index) give a nested Place.
    number(value, place, lo, hi, unit="", lo_open=False, also="") -> float   (finite, in range; huge ints refused)
    integer(value, place, lo=None, hi=None, whole_floats=False) -> int
    boolean(value, place)   text(value, place)   choice(value, place, choices, what="value") (suggests)
    table(value, place) -> dict   table_list(value, place) -> list[dict]
    known_keys(keys, known, place, what="key")    unknown keys with suggestions
    number_text(raw, place, lo, hi, unit) / integer_text(raw, place, lo, hi): command-line and URL text
    show(value): a value as a message quotes it (short; a 400-digit integer by its length)
    range_text(lo, hi, unit, lo_open=False): "600 to 900 °C"

Device text (lambdarig.common.device_text)
    printable_device_text(text): text a device sent (serial numbers, error texts, USB strings)
    without ANSI escape sequences, other control characters replaced: safe to print.

Overrides (lambdarig.common.overrides)
    apply_override(data, "section.key=value", source, *, error=InputError): what-if edits of a raw
    table; only existing keys, with suggestions for a typo.
"""

from .errors import InputError, LambdarigError, nearest
from .overrides import apply_override
from .tables import REQUIRED, TableReader
from .toml_file import parse_toml_text, read_toml_file
from .validators import Place

__all__ = ["InputError", "LambdarigError", "nearest", "apply_override", "REQUIRED", "TableReader",
           "parse_toml_text", "read_toml_file", "Place"]
