"""Read SSDA903 returns: validate, stitch years, de-duplicate, resolve overlaps, report.

Input is either a folder of yearly files (``YYYY-header.csv`` and ``YYYY-episodes.csv``; the
name's case does not matter and ``_`` or a space may stand for ``-``) or one combined CSV holding
the header and episode columns on each episode row. Two files for one year and table are an
error; so is a file that looks like a yearly file but is not named like one (``episodes-2021.csv``,
``2021-episodes.csv.bak``) when that year and table are otherwise missing. Such near-misses beside
a properly named file are ignored and listed in ``ignored_files``.

Dates may be written ``dd/mm/YYYY`` or ``YYYY-mm-dd``, value by value (the two cannot be
confused); which layouts each file used is reported. A two-digit year or a year outside
1900-2099 is an error. Blank lines (empty, or only spaces and commas) are ignored wherever they
are and counted per file in the quality summary (``blank_lines``); line numbers stay the file's.

Everything that is checked is a rule with an id (see :mod:`cobic.schemas`). Rules a file must
meet (dates, codes, DEC >= DECOM, plausible dates of birth, ...) raise :class:`DataError` with
every problem listed and nothing produced. Things with one sensible resolution are resolved and
*reported*: the quality table has one row for every raw row read, with its outcome

* ``kept`` (possibly with a ``change``: e.g. an overlap resolved),
* ``merged`` (the same episode or child re-reported in a later return; the later one is kept),
* ``dropped`` (an exact duplicate row within one file),

so ``kept + merged + dropped = read`` for every file (blank lines are not rows: they are
counted apart).

Error messages name the file, line, column, rule and value; a cross-field rule names the CHILD,
never the whole row, and no UPN, MOTHER, MC_DOB or postcode value is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from cobic.codes import CodeSets, default_codes
from cobic.data.csvio import LINE, TextTable, read_text_table
from cobic.data.dates import (
    DATE_PATTERNS,
    birthday,
    collection_year_of,
    parse_date,
    year_end,
    year_start,
)
from cobic.errors import DataError, Problem
from cobic.schemas import (
    EPISODE_COLUMNS,
    EPISODE_REQUIRED,
    HEADER_COLUMNS,
    HEADER_REQUIRED,
    episodes_schema,
    header_schema,
    raw_episodes_schema,
    raw_header_schema,
    validate_to_problems,
)

__all__ = ["SSDA903", "read_ssda903", "find_yearly_files"]

_FILE_RE = re.compile(r"^(\d{4})[-_ ](header|episodes)\.csv$", re.I)
# A name that mentions a year and a table but is not a yearly file's name.
_NEAR_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_NEAR_KIND = re.compile(r"(header|episode)", re.I)
YEAR_LABELS = ("ending", "starting", "auto")
_FILES_SCHEMA = {"table": pl.String, "file": pl.String, "blank_lines": pl.Int64,
                 "date_formats": pl.String}


def _no_files() -> pl.DataFrame:
    return pl.DataFrame(schema=_FILES_SCHEMA)


@dataclass(frozen=True)
class SSDA903:
    """Clean, stitched SSDA903 data for one local authority.

    Attributes
    ----------
    episodes
        One row per episode (``CHILD, DECOM, DEC, RNE, LS, CIN, PLACE, PLACE_PROVIDER, REC, ...``)
        plus ``placement_group``, ``short_break`` and the source ``file``/``line``. ``DEC`` is
        null for episodes open at ``extract_end``.
    header
        One row per child (``CHILD, SEX, DOB, ...``).
    quality
        One row per raw row read: ``table, file, line, CHILD, outcome, change, detail``.
    collection_years
        The collection years covered, named by the year they end (31 March).
    extract_end
        The last day covered (31 March of the last collection year).
    year_label
        How the yearly files were named: ``"ending"`` (``2022-...`` holds 2021-22, the DfE
        convention) or ``"starting"`` (``2021-...`` holds 2021-22).
    files
        One row per table and file read: ``table, file, blank_lines`` (blank lines ignored)
        and ``date_formats`` (the date layouts found, e.g. ``"dd/mm/YYYY, YYYY-mm-dd"``).
    ignored_files
        Files in the folder that look like yearly files but were not read (a near-miss name
        beside a properly named file for the same year and table).
    """

    episodes: pl.DataFrame
    header: pl.DataFrame
    quality: pl.DataFrame
    collection_years: tuple[int, ...]
    extract_end: date
    year_label: str
    source: str
    codes: CodeSets
    files: pl.DataFrame = field(default_factory=_no_files, compare=False)
    ignored_files: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def data_start(self) -> date:
        """The first day covered: 1 April of the first collection year."""
        return year_start(self.collection_years[0])

    @property
    def date_formats(self) -> tuple[str, ...]:
        """The date layouts read in any file (``"dd/mm/YYYY"``, ``"YYYY-mm-dd"``)."""
        found = ", ".join(self.files["date_formats"].drop_nulls().to_list())
        return tuple(f for f in DATE_PATTERNS if f in found)

    def quality_summary(self) -> pl.DataFrame:
        """Rows read, kept, merged, dropped and changed, blank lines ignored and date layouts,
        per file (``kept + merged + dropped = read``; blank lines are not rows)."""
        q = self.quality
        return (
            q.group_by("table", "file", maintain_order=True)
            .agg(
                read=pl.len(),
                kept=(pl.col("outcome") == "kept").sum(),
                merged=(pl.col("outcome") == "merged").sum(),
                dropped=(pl.col("outcome") == "dropped").sum(),
                changed=pl.col("change").is_not_null().sum(),
            )
            .join(self.files, on=["table", "file"], how="left")
            .with_columns(pl.col("blank_lines").fill_null(0))
            .sort("table", "file")
        )

    def quality_report(self) -> pl.DataFrame:
        """The rows of ``quality`` that were not simply kept unchanged."""
        return self.quality.filter((pl.col("outcome") != "kept") | pl.col("change").is_not_null())


def find_yearly_files(folder: Path) -> dict[int, dict[str, Path]]:
    """Map year label -> {'header': path, 'episodes': path} for the yearly files in ``folder``.

    Names are matched ignoring case, with ``-``, ``_`` or a space between the year and the
    table (``2021-episodes.csv``, ``2021_Episodes.CSV``). Anything with such a name is
    returned, a folder too (reading it then fails with a clear error).

    Raises
    ------
    DataError
        When two files name the same year and table, or a file that looks like a yearly file
        (``episodes-2021.csv``, ``2021-episodes.csv.bak``) names a year and table that no
        properly named file covers.
    """
    found, _ignored = _scan_folder(folder)
    return found


def _scan_folder(folder: Path) -> tuple[dict[int, dict[str, Path]], tuple[str, ...]]:
    """The yearly files, and the near-miss names ignored because a proper file exists."""
    found: dict[int, dict[str, Path]] = {}
    problems, near = [], []
    for p in sorted(folder.iterdir()):
        m = _FILE_RE.match(p.name)
        if not m:
            near += [(int(y), k, p) for y, k in _near_miss(p.name)]
            continue
        y, kind = int(m.group(1)), m.group(2).lower()
        if kind in found.setdefault(y, {}):
            problems.append(Problem(str(p), "duplicate-file",
                                    f"two {kind} files for year {y}: {found[y][kind].name} and "
                                    f"{p.name}; keep one"))
        else:
            found[y][kind] = p
    ignored = []
    for y, kind, p in near:
        if kind in found.get(y, {}):
            ignored.append(str(p))
        else:
            problems.append(Problem(str(p), "file-name",
                                    f"looks like the {kind} file for {y} but is not named "
                                    f"{y}-{kind}.csv, so it would be left out: rename it, or "
                                    "move it out of the folder"))
    if problems:
        raise DataError(problems)
    return found, tuple(dict.fromkeys(ignored))


def _near_miss(name: str) -> list[tuple[int, str]]:
    """(year, table) pairs a name that is not a yearly file's name seems to mean."""
    kinds = {k.lower() for k in _NEAR_KIND.findall(name)}
    years = {int(y) for y in _NEAR_YEAR.findall(name)}
    if len(years) != 1 or len(kinds) != 1:
        return []
    kind = "header" if kinds == {"header"} else "episodes"
    return [(years.pop(), kind)]


def read_ssda903(
    path: Path | str,
    *,
    codes: CodeSets | None = None,
    year_label: str = "auto",
) -> SSDA903:
    """Read, check and stitch SSDA903 returns from a folder of yearly files or one combined file.

    Parameters
    ----------
    path
        A folder with ``YYYY-header.csv`` and ``YYYY-episodes.csv`` per year, or one CSV file
        with the header and episode columns on each row.
    codes
        Code sets and groupings (default: ``models/ssda903.toml``).
    year_label
        ``"ending"``, ``"starting"`` or ``"auto"``: whether ``YYYY`` in a file name is the year
        the collection year ends in (DfE convention) or starts in. ``auto`` decides from the
        dates: a file whose episodes start after 31 March ``YYYY`` must be labelled by its start.
        Ignored for a combined file, whose extract ends on the 31 March following its latest
        DECOM.

    Raises
    ------
    DataError
        Listing every problem (file, line, column, rule) when the input is not usable.
    ValueError
        When ``year_label`` is not one of ``ending``, ``starting``, ``auto``.
    """
    if year_label not in YEAR_LABELS:
        raise ValueError(f"year_label must be one of {', '.join(YEAR_LABELS)}; "
                         f"got {year_label!r}")
    codes = codes or default_codes()
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, codes, year_label)
    if path.exists():
        return _read_combined(path, codes)
    raise DataError([Problem(str(path), "file-missing", "no such file or folder")])


# ------------------------------------------------------------------ folder of yearly files

def _read_folder(folder: Path, codes: CodeSets, year_label: str) -> SSDA903:
    files, ignored = _scan_folder(folder)
    if not files:
        raise DataError([Problem(str(folder), "no-files",
                                 "no files named YYYY-header.csv / YYYY-episodes.csv here")])
    problems: list[Problem] = []
    for y, pair in files.items():
        for kind in ("header", "episodes"):
            if kind not in pair:
                problems.append(Problem(str(folder / f"{y}-{kind}.csv"), "file-missing",
                                        f"year {y} has a {'episodes' if kind == 'header' else 'header'} "
                                        f"file but no {kind} file"))
    if problems:
        raise DataError(problems)
    labels = sorted(files)
    gaps = [y for y in range(labels[0], labels[-1] + 1) if y not in files]
    if gaps:
        raise DataError([Problem(str(folder), "year-missing",
                                 f"no files for year {y}: returns must be consecutive years")
                         for y in gaps])

    raw: dict[tuple[int, str], TextTable] = {}
    for y in labels:
        for kind, req, opt in (("header", HEADER_REQUIRED, HEADER_COLUMNS),
                               ("episodes", EPISODE_REQUIRED, EPISODE_COLUMNS)):
            try:
                raw[y, kind] = read_text_table(files[y][kind], req, optional=opt)
            except DataError as e:
                problems += e.problems
    if problems:
        raise DataError(problems)
    blanks = pl.DataFrame([(kind, str(files[y][kind]), len(t.blank_lines))
                           for (y, kind), t in raw.items()],
                          schema=["table", "file", "blank_lines"], orient="row")

    raw_eps = {y: raw[y, "episodes"].table for y in labels}
    label = _infer_year_label(raw_eps, files, year_label)
    shift = 0 if label == "ending" else 1
    eps_frames, hdr_frames = [], []
    for y in labels:
        cy = y + shift
        extra = [pl.lit(str(files[y]["episodes"])).alias("_file"), pl.lit(cy).alias("_cy"),
                 pl.lit(year_start(cy)).alias("_year_start"), pl.lit(year_end(cy)).alias("_year_end"),
                 pl.lit(None, dtype=pl.Date).alias("_not_after")]
        eps_frames.append(raw_eps[y].select(*EPISODE_COLUMNS, LINE).with_columns(extra))
        extra[0] = pl.lit(str(files[y]["header"])).alias("_file")
        hdr_frames.append(raw[y, "header"].table.select(*HEADER_COLUMNS, LINE)
                          .with_columns(extra))
    years = tuple(y + shift for y in labels)
    return _check_and_stitch(pl.concat(eps_frames), pl.concat(hdr_frames), codes, years, label,
                             str(folder), per_year_headers=True, blanks=blanks, ignored=ignored)


def _infer_year_label(raw_eps: dict[int, pl.DataFrame], files, year_label: str) -> str:
    if year_label in ("ending", "starting"):
        return year_label
    votes = {}
    for y, df in raw_eps.items():  # unreadable dates are ignored here and reported later
        # a file named by its starting year holds episodes starting in the year after
        # 31 March y; one or two stray dates (a typo such as 2099) do not decide it, and
        # dates beyond the following year are left to the decom-after-year rule
        d = df.select(parse_date(pl.col("DECOM")).alias("d"))["d"]
        nxt = ((d > year_end(y)) & (d <= year_end(y + 1))).sum()
        votes[y] = "starting" if nxt >= max(1, 0.02 * d.len()) else "ending"
    kinds = set(votes.values())
    if len(kinds) > 1:
        raise DataError([Problem(str(files[y]["episodes"]), "year-label",
                                 f"file named {y} {'has' if v == 'starting' else 'has no'} episodes "
                                 f"starting after 31/03/{y}, unlike other years' files: name every "
                                 "file by the year its collection year ends")
                         for y, v in votes.items()])
    return kinds.pop()


# ------------------------------------------------------------------ one combined file

def _combined_years(raw: pl.DataFrame) -> tuple[int, ...]:
    """Collection years of a combined file: from the earliest to the latest DECOM's.

    The extract ends on the 31 March that ends the latest DECOM's collection year (a new
    episode starts every few days in any authority); a DEC after it is an error, not a reason to
    stretch the extract. DECOMs after today do not count (they are reported as errors); with
    no usable DECOM at all, the current year is used so that every row's problem is reported.
    """
    today = date.today()
    decom = parse_date(pl.col("DECOM"))
    first, latest = raw.select(decom.min().alias("first"),
                               decom.filter(decom <= today).max().alias("latest")).row(0)
    if latest is None:
        return (pl.select(collection_year_of(pl.lit(today))).item(),)
    cy = pl.select(collection_year_of(pl.lit(first)).alias("first"),
                   collection_year_of(pl.lit(latest)).alias("latest")).row(0)
    return tuple(range(cy[0], cy[1] + 1))


def _read_combined(path: Path, codes: CodeSets) -> SSDA903:
    text = read_text_table(path, tuple(dict.fromkeys(HEADER_REQUIRED + EPISODE_REQUIRED)),
                           optional=tuple(dict.fromkeys(HEADER_COLUMNS + EPISODE_COLUMNS)))
    raw = text.table
    years = _combined_years(raw)
    extra = [pl.lit(str(path)).alias("_file"), pl.lit(years[-1]).alias("_cy"),
             pl.lit(date(1900, 1, 1)).alias("_year_start"),
             pl.lit(year_end(years[-1])).alias("_year_end"),
             pl.lit(date.today()).alias("_not_after")]
    eps = raw.select(*EPISODE_COLUMNS, LINE).with_columns(extra)
    hdr = raw.select(*HEADER_COLUMNS, LINE).with_columns(extra)
    # A combined file repeats the child's header on each episode row: they must agree.
    dob = pl.coalesce(parse_date(pl.col("DOB")).cast(pl.String), pl.col("DOB"))
    conflicts = (hdr.group_by("CHILD").agg(dob.n_unique().alias("n_dob"),
                                           pl.col("SEX").n_unique().alias("n_sex"),
                                           pl.col(LINE).min().alias("first"))
                 .filter((pl.col("n_dob") > 1) | (pl.col("n_sex") > 1)))
    if conflicts.height:
        raise DataError([Problem(str(path), "header-conflict",
                                 f"CHILD {r['CHILD']} has different DOB or SEX on different rows",
                                 row=r["first"], column="DOB")
                         for r in conflicts.iter_rows(named=True)])
    hdr = hdr.unique("CHILD", keep="first", maintain_order=True)
    blanks = pl.DataFrame({"table": ["episodes"], "file": [str(path)],
                           "blank_lines": [len(text.blank_lines)]})
    return _check_and_stitch(eps, hdr, codes, years, "ending", str(path), per_year_headers=False,
                             blanks=blanks)


# ------------------------------------------------------------------ shared checks and stitching

def _dupe_problems(df: pl.DataFrame, key: list[str], rule: str, message: str,
                   compare: list[str] | None) -> list[Problem]:
    """Rows sharing ``key`` within one file; with ``compare``, only when those columns differ."""
    g = df.group_by("_file", *key).agg(pl.col(LINE), *(pl.col(c).n_unique().alias(f"_n_{c}")
                                                       for c in (compare or [])))
    g = g.filter(pl.col(LINE).list.len() > 1)
    if compare:
        g = g.filter(pl.any_horizontal(pl.col(f"_n_{c}") > 1 for c in compare))
    out = []
    for r in g.iter_rows(named=True):
        lines = sorted(r[LINE])
        out.append(Problem(r["_file"], rule, f"{message} (also on line(s) "
                           f"{', '.join(map(str, lines[1:]))})", row=lines[0], column=key[-1],
                           value=str(r[key[-1]])))
    return out


def _date_formats(eps: pl.DataFrame, hdr: pl.DataFrame, blanks: pl.DataFrame) -> pl.DataFrame:
    """Per table and file: blank lines ignored and the date layouts found (valid raw text)."""
    marks = {"dd/mm/YYYY": "/", "YYYY-mm-dd": "-"}  # enough to tell valid dates apart
    assert set(marks) == set(DATE_PATTERNS)

    def found(df: pl.DataFrame, table: str, cols: tuple[str, ...]) -> pl.DataFrame:
        return df.group_by("_file").agg(
            *(pl.any_horizontal(pl.col(c).str.contains(mark, literal=True) for c in cols).any()
              .alias(name) for name, mark in marks.items())
        ).select(pl.lit(table).alias("table"), pl.col("_file").alias("file"),
                 pl.concat_str(*(pl.when(name).then(pl.lit(name)) for name in DATE_PATTERNS),
                               separator=", ", ignore_nulls=True).alias("date_formats"))
    out = pl.concat([found(hdr, "header", ("DOB", "MC_DOB")),
                     found(eps, "episodes", ("DECOM", "DEC"))])
    return (out.join(blanks, on=["table", "file"], how="left")
            .with_columns(pl.col("blank_lines").fill_null(0).cast(pl.Int64),
                          pl.when(pl.col("date_formats") != "").then("date_formats"))
            .select(*_FILES_SCHEMA).sort("table", "file"))


def _same_dates(df: pl.DataFrame, cols: tuple[str, ...]) -> pl.DataFrame:
    """``cols`` written one way (dd/mm/YYYY) when they are dates, so 2021-04-01 = 01/04/2021."""
    return df.with_columns(pl.coalesce(parse_date(pl.col(c)).dt.strftime("%d/%m/%Y"),
                                       pl.col(c)).alias(c) for c in cols)


def _check_and_stitch(eps: pl.DataFrame, hdr: pl.DataFrame, codes: CodeSets,
                      years: tuple[int, ...], label: str, source: str,
                      per_year_headers: bool, blanks: pl.DataFrame,
                      ignored: tuple[str, ...] = ()) -> SSDA903:
    problems: list[Problem] = []
    files = _date_formats(eps, hdr, blanks)
    for f, part in hdr.group_by("_file", maintain_order=True):
        problems += validate_to_problems(part, raw_header_schema(codes), f[0])
    for f, part in eps.group_by("_file", maintain_order=True):
        problems += validate_to_problems(part, raw_episodes_schema(codes), f[0])
    if per_year_headers:
        problems += _dupe_problems(hdr, ["CHILD"], "header-duplicate-child",
                                   "CHILD appears more than once in this header file", None)
    eps_cols = [c for c in EPISODE_COLUMNS if c not in ("CHILD", "DECOM")]
    iso = files["date_formats"].str.contains("YYYY-mm-dd", literal=True).any()
    problems += _dupe_problems(_same_dates(eps, ("DECOM", "DEC")) if iso else eps,
                               ["CHILD", "DECOM"],
                               "episode-duplicate-start",
                               "the child has two different episodes starting on the same date",
                               eps_cols)
    # Every episode's child must be in the same year's header.
    missing = eps.join(hdr.select("CHILD", "_cy"), on=["CHILD", "_cy"], how="anti")
    for r in missing.iter_rows(named=True):
        problems.append(Problem(r["_file"], "child-not-in-header",
                                "the episode's CHILD is not in this year's header file",
                                row=r[LINE], column="CHILD", value=r["CHILD"]))
    if problems:
        raise DataError(problems)

    # ---- parse (all values are now known to be valid)
    hdr = hdr.with_columns(parse_date(pl.col(c)).alias(c) for c in ("DOB", "MC_DOB"))
    eps = eps.with_columns(parse_date(pl.col(c)).alias(c) for c in ("DECOM", "DEC"))

    # ---- header: keep the latest return's row per child; others merged
    hdr = hdr.sort("CHILD", "_cy", LINE)
    hdr = hdr.with_columns(
        _keep=pl.col("_cy").rank("ordinal", descending=True).over("CHILD") == 1,
        _n_dob=pl.col("DOB").n_unique().over("CHILD"),
        _n_sex=pl.col("SEX").n_unique().over("CHILD"),
    )
    latest = hdr.filter("_keep")
    # each conflicting child's distinct values, where each was first given, for the report
    values = (hdr.filter((pl.col("_n_dob") > 1) | (pl.col("_n_sex") > 1))
              .unique(["CHILD", "DOB", "SEX"], keep="first", maintain_order=True)
              .group_by("CHILD", maintain_order=True).agg(_values=(
                  pl.lit("DOB ") + pl.col("DOB").dt.strftime("%d/%m/%Y") + pl.lit(", SEX ")
                  + pl.col("SEX").cast(pl.String) + pl.lit(" from ")
                  + pl.col("_file").str.split("/").list.last() + pl.lit(" line ")
                  + pl.col(LINE).cast(pl.String)).str.join("; ")))
    hdr_quality = hdr.join(latest.select("CHILD", pl.col("_file").alias("_kf"),
                                         pl.col(LINE).alias("_kl")), on="CHILD").join(
        values, on="CHILD", how="left").select(
        pl.lit("header").alias("table"), pl.col("_file").alias("file"),
        pl.col(LINE).alias("line"), "CHILD",
        pl.when("_keep").then(pl.lit("kept")).otherwise(pl.lit("merged")).alias("outcome"),
        pl.when(pl.col("_keep") & ((pl.col("_n_dob") > 1) | (pl.col("_n_sex") > 1)))
        .then(pl.lit("header-conflict")).alias("change"),
        pl.when(~pl.col("_keep"))
        .then(pl.lit("same child in a later return: ") + pl.col("_kf") + pl.lit(":")
              + pl.col("_kl").cast(pl.String))
        .when((pl.col("_n_dob") > 1) | (pl.col("_n_sex") > 1))
        .then(pl.lit("DOB or SEX differs between returns (") + pl.col("_values")
              + pl.lit("); the latest return's values are used"))
        .alias("detail"),
    )
    header = latest.drop("_keep", "_n_dob", "_n_sex")

    # ---- child-level date rules need the DOB
    eps = eps.join(header.select("CHILD", "DOB", pl.col("_file").alias("_dob_file"),
                                 pl.col(LINE).alias("_dob_line")),
                   on="CHILD", how="left").with_columns(_b18=birthday(pl.col("DOB"), 18))
    extract_end = year_end(years[-1])
    open_past_18 = pl.col("DEC").is_null() & (pl.col("_cy") == years[-1]) & (
        pl.col("_b18") <= pl.lit(extract_end))
    bad = eps.filter((pl.col("DECOM") < pl.col("DOB")) | (pl.col("DECOM") >= pl.col("_b18"))
                     | (pl.col("DEC") > pl.col("_b18")) | open_past_18)
    for r in bad.iter_rows(named=True):
        if r["DECOM"] < r["DOB"]:
            rule, msg, col = "decom-before-birth", "episode starts before the child's DOB", "DECOM"
        elif r["DECOM"] >= r["_b18"]:
            rule, msg, col = "decom-after-18", "episode starts on or after the 18th birthday", "DECOM"
        elif r["DEC"] is None:
            rule, msg, col = ("open-after-18", "episode is still open at the end of the last "
                              "return although the child is 18 or over", "DEC")
        else:
            rule, msg, col = "dec-after-18", "episode ends after the child's 18th birthday", "DEC"
        value = "" if r[col] is None else f"{r[col]:%d/%m/%Y}"
        where = f"{Path(r['_dob_file']).name} line {r['_dob_line']}"
        problems.append(Problem(r["_file"], rule, f"CHILD {r['CHILD']}: {msg} (DOB "
                                f"{r['DOB']:%d/%m/%Y}, from {where}: check the episode or the "
                                "DOB)", row=r[LINE], column=col, value=value))
    if problems:
        raise DataError(problems)

    # ---- exact duplicate rows within a file: keep the first (rows are in file/line order)
    eps = eps.with_columns(_dup=~pl.struct("_file", *EPISODE_COLUMNS).is_first_distinct())
    firsts = (eps.filter(~pl.col("_dup")).join(
        eps.filter("_dup").select("_file", *EPISODE_COLUMNS).unique(),
        on=["_file", *EPISODE_COLUMNS], nulls_equal=True)
        .select("_file", *EPISODE_COLUMNS, _first=pl.col(LINE)))
    eps = eps.join(firsts, on=["_file", *EPISODE_COLUMNS], how="left", nulls_equal=True)
    # ---- the same episode (CHILD, DECOM) in several returns: keep the latest return's
    eps = eps.sort("CHILD", "DECOM", "_cy", LINE)
    eps = eps.with_columns(
        _keep=(~pl.col("_dup")) & (pl.col("_cy") == pl.col("_cy").filter(~pl.col("_dup")).max()
                                   .over("CHILD", "DECOM")))
    kept = eps.filter("_keep")
    merged_into = kept.select("CHILD", "DECOM", pl.col("_file").alias("_kf"),
                              pl.col(LINE).alias("_kl"))
    eps = eps.join(merged_into, on=["CHILD", "DECOM"], how="left")
    last_cy = years[-1]

    # ---- resolve: open episodes missing from the next return, then overlaps
    kept = kept.sort("CHILD", "DECOM").with_columns(
        _orig_dec=pl.col("DEC"),
        _vanished=pl.col("DEC").is_null() & (pl.col("_cy") < last_cy),
    )
    kept = kept.with_columns(
        DEC=pl.when("_vanished").then(pl.col("_year_end") + timedelta(days=1))
        .otherwise(pl.col("DEC")),
        REC=pl.when("_vanished").then(None).otherwise(pl.col("REC")),
    )
    kept = kept.with_columns(_next=pl.col("DECOM").shift(-1).over("CHILD"))
    kept = kept.with_columns(
        _overlap=pl.col("_next").is_not_null() & (pl.col("DEC").is_null()
                                                  | (pl.col("DEC") > pl.col("_next"))))
    kept = kept.with_columns(
        _dec_before_overlap=pl.col("DEC"),
        DEC=pl.when("_overlap").then(pl.col("_next")).otherwise(pl.col("DEC")),
        REC=pl.when("_overlap").then(pl.lit(codes.continues_rec)).otherwise(pl.col("REC")),
    )

    def _fmt(c: str) -> pl.Expr:
        return pl.col(c).dt.strftime("%d/%m/%Y").fill_null("open")

    change = (pl.when("_overlap").then(pl.lit("overlap-resolved"))
              .when("_vanished").then(pl.lit("closed-not-in-next-return")))
    detail = (
        pl.when("_overlap").then(
            pl.lit("DEC ") + _fmt("_dec_before_overlap") + pl.lit(" set to ") + _fmt("DEC")
            + pl.lit(", the start of the child's next episode")
            + pl.when("_vanished").then(pl.lit(" (episode was also missing from the next return)"))
            .otherwise(pl.lit("")))
        .when("_vanished").then(
            pl.lit("open at the end of collection year ") + pl.col("_cy").cast(pl.String)
            + pl.lit(" but absent from every later return: closed on ") + _fmt("DEC")
            + pl.lit(" with an unknown reason"))
    )
    kept = kept.with_columns(_change=change, _detail=detail)
    ep_quality = eps.join(kept.select(pl.col("_file"), pl.col(LINE), "_change", "_detail"),
                          on=["_file", LINE], how="left").select(
        pl.lit("episodes").alias("table"), pl.col("_file").alias("file"),
        pl.col(LINE).alias("line"), "CHILD",
        pl.when("_keep").then(pl.lit("kept")).when("_dup").then(pl.lit("dropped"))
        .otherwise(pl.lit("merged")).alias("outcome"),
        pl.when("_keep").then(pl.col("_change"))
        .when("_dup").then(pl.lit("exact-duplicate")).alias("change"),
        pl.when("_keep").then(pl.col("_detail"))
        .when("_dup").then(pl.lit("identical to line ") + pl.col("_first").cast(pl.String)
                           + pl.lit(" of the same file"))
        .otherwise(pl.lit("same episode (CHILD, DECOM) in a later return: ") + pl.col("_kf")
                   + pl.lit(":") + pl.col("_kl").cast(pl.String)).alias("detail"),
    )
    # dropped rows are recorded with their rule in `change` for the report; only kept rows
    # can carry a change to the data.
    ep_quality = ep_quality.with_columns(
        change=pl.when(pl.col("outcome") == "dropped").then(None).otherwise(pl.col("change")),
        detail=pl.when(pl.col("outcome") == "dropped")
        .then(pl.lit("exact duplicate: ") + pl.col("detail")).otherwise(pl.col("detail")),
    )

    place_map = codes.place_to_group
    episodes = kept.select(
        *EPISODE_COLUMNS,
        placement_group=pl.col("PLACE").replace_strict(place_map, return_dtype=pl.String),
        short_break=pl.col("LS").is_in(list(codes.short_breaks)),
        collection_year=pl.col("_cy"),
        file=pl.col("_file"),
        line=pl.col(LINE),
    ).sort("CHILD", "DECOM")
    header_out = header.select(*HEADER_COLUMNS, collection_year=pl.col("_cy"),
                               file=pl.col("_file"), line=pl.col(LINE)).sort("CHILD")
    episodes_schema(codes).validate(episodes)
    header_schema(codes).validate(header_out)
    quality = pl.concat([hdr_quality, ep_quality]).sort("table", "file", "line")
    return SSDA903(episodes=episodes, header=header_out, quality=quality,
                   collection_years=years, extract_end=extract_end, year_label=label,
                   source=source, codes=codes, files=files, ignored_files=ignored)
