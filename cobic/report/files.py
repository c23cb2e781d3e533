"""The one writer for every file and folder cobic outputs. It never loses a user's file.

Rules (the same for every command, the demo and the notebooks' downloads):

* Outputs are built at a temporary path beside their target and renamed into place only
  when everything has been written, so a failure leaves nothing behind.
* cobic keeps a manifest (``.cobic-manifest.json``) in each folder it writes to, listing the
  files it wrote there and their SHA-256. It replaces only files listed there whose content
  is unchanged since cobic wrote them. Any other existing file, a user's own or a cobic output
  edited since (the edit is the user's), is never overwritten, with or without ``force``; the
  command stops with :class:`OutputError` before any work is done where that can be known
  (and before anything is written in every case).
* ``force`` lets a command write into a folder that already holds other files, beside them; it
  never touches a file cobic did not write or one edited since cobic wrote it.
* Nothing is ever deleted, but for cobic's own temporary files.
* An output equal to or inside an input is refused, as is a folder output at the current
  folder, one of its parents, the home folder or the filesystem root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OutputError", "MANIFEST", "OutputFile", "OutputFolder", "check_output_file",
           "check_output_folder", "write_file", "output_folder", "check_distinct",
           "earlier_outputs"]

MANIFEST = ".cobic-manifest.json"
_TMP_TAG = ".cobic-tmp-"


class OutputError(ValueError):
    """An output cannot be written safely; the message names the path and what to do."""


# ------------------------------------------------------------------ manifest

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_manifest(folder: Path) -> dict[str, dict]:
    """Files cobic wrote in ``folder`` (relative path -> entry); empty if none or unreadable."""
    try:
        raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = raw.get("files") if isinstance(raw, dict) and raw.get("tool") == "cobic" else None
    return files if isinstance(files, dict) else {}


def _check_manifest(folder: Path) -> None:
    m = folder / MANIFEST
    if (m.exists() or m.is_symlink()) and not _is_manifest(m):
        raise OutputError(f"{m} exists and is not a cobic manifest: cobic never overwrites it. "
                          "Move it away, or write to another folder.")


def _write_manifest(folder: Path, entries: dict[str, dict]) -> None:
    _check_manifest(folder)
    files = {**_read_manifest(folder), **entries}
    text = json.dumps({"tool": "cobic", "note": "files cobic wrote here; cobic replaces only "
                       "these, and only while unchanged", "files": dict(sorted(files.items()))},
                      indent=1) + "\n"
    _replace_with(folder / MANIFEST, lambda p: p.write_text(text, encoding="utf-8"))


def _is_manifest(path: Path) -> bool:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and raw.get("tool") == "cobic" and isinstance(
        raw.get("files"), dict)


def _ownership(folder: Path, rel: str) -> str:
    """``absent``, ``cobic`` (written by cobic, unchanged), ``edited`` or ``user``."""
    target = folder / rel
    if not target.exists() and not target.is_symlink():
        return "absent"
    if target.is_symlink() or not target.is_file():
        return "user"
    entry = _read_manifest(folder).get(rel)
    if not isinstance(entry, dict) and "/" in rel:  # written by a file output in a subfolder
        entry = _read_manifest(target.parent).get(target.name)
    if not isinstance(entry, dict):
        return "user"
    return "cobic" if entry.get("sha256") == _sha256(target) else "edited"


def _refuse_existing(target: Path, state: str, force: bool) -> None:
    if state == "user":
        raise OutputError(f"{target} already exists and was not written by cobic: cobic never "
                          "overwrites it (even with --force). Choose another output name, or "
                          "move the file away.")
    if state == "edited":
        raise OutputError(f"{target} was written by cobic but has been changed since: cobic "
                          "does not overwrite it (even with --force), as the changes are "
                          "yours. Choose another output name, or move or rename the file.")


# ------------------------------------------------------------------ checks

def _resolved(p: Path | str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(p))))


def _named(path: Path | str, what: str, kind: str) -> Path:
    """``path`` resolved; its last component must fit a file system's 255-byte limit."""
    p = _resolved(path)
    if len(p.name.encode()) > 255:
        raise OutputError(f"{what}: the {kind} name is longer than 255 bytes")
    return p


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _check_not_input(out: Path, inputs: Iterable[Path | str | None], what: str) -> None:
    for inp in inputs:
        if inp is None:
            continue
        src = _resolved(inp)
        real_out, real_src = Path(os.path.realpath(out)), Path(os.path.realpath(src))
        if real_out == real_src:
            raise OutputError(f"{what} {out} is also an input: cobic never writes over its "
                              "inputs. Choose another output path.")
        if src.is_dir() and _inside(real_out, real_src):
            raise OutputError(f"{what} {out} is inside the input folder {src}: outputs must "
                              "not change an input. Choose a path outside it.")


@dataclass(frozen=True)
class OutputFile:
    """A checked output file: where it goes and whether ``--force`` was given."""

    path: Path
    force: bool = False


@dataclass(frozen=True)
class OutputFolder:
    """A checked output folder: where it goes, whether ``--force`` was given, and the
    command's input files (never replaced, even where they lie in the folder)."""

    path: Path
    force: bool = False
    inputs: tuple[Path, ...] = ()


def check_output_file(path: Path | str, *, inputs: Iterable[Path | str | None] = (),
                      suffixes: tuple[str, ...] = (), force: bool = False,
                      what: str = "output") -> OutputFile:
    """Check before any work that ``path`` can be written as an output file.

    Parameters
    ----------
    path
        The file to write.
    inputs
        The command's inputs (files or folders): the output may not be one, nor lie inside one.
    suffixes
        Allowed extensions (lower case, with the dot); empty allows any.
    force
        Allow replacing a cobic output that was edited since it was written.
    what
        How the output is named in messages (e.g. ``--out``).

    Raises
    ------
    OutputError
        Naming the path and the rule.
    """
    p = _named(path, what, "file")
    if p.is_dir():
        raise OutputError(f"{what} {path} is a folder: give a file name, e.g. {p / 'out'}"
                          f"{suffixes[0] if suffixes else '.csv'}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise OutputError(f"{what} {path}: must end in {' or '.join(suffixes)}")
    _check_not_input(p, inputs, what)
    _check_parent(p.parent, what, path)
    _refuse_existing(p, _ownership(p.parent, p.name), force)
    _check_manifest(p.parent)
    return OutputFile(p, force)


def _check_parent(parent: Path, what: str, shown: Path | str) -> None:
    """The nearest existing ancestor must be a writable folder."""
    anc = parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(f"{what} {shown}: {anc} is a file, not a folder")
    try:  # the only sure test: make (and remove) a temporary file of cobic's own there
        fd, probe = tempfile.mkstemp(dir=anc, prefix=f".cobic-probe{_TMP_TAG}")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{what} {shown}: cannot write in {anc} ({e.strerror or e})") from None


def _protected(p: Path) -> str | None:
    cwd = _resolved(Path.cwd())
    if p == Path(p.anchor):
        return "the filesystem root"
    if p == _resolved(Path.home()):
        return "your home folder"
    if _inside(cwd, p):
        return "the current folder" if p == cwd else "a parent of the current folder"
    return None


def check_output_folder(path: Path | str, *, inputs: Iterable[Path | str | None] = (),
                        force: bool = False, what: str = "--out",
                        writes: Iterable[str] = ()) -> OutputFolder:
    """Check before any work that ``path`` can take a folder of outputs.

    A new or empty folder, or one holding only files cobic wrote there, is fine; a folder with
    other files needs ``force`` (those files are left as they are). Files of the user's named
    as the command's outputs (``writes``) are refused even with ``force``, all named at once.

    Raises
    ------
    OutputError
        Naming the path and the rule.
    """
    p = _named(path, what, "folder")
    where = _protected(p)
    if where:
        raise OutputError(f"{what} {path} is {where}: give a new folder for the outputs, "
                          f"e.g. {path}/cobic-output")
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {path} is a file, not a folder: give a folder name")
    _check_not_input(p, inputs, what)
    _check_parent(p.parent, what, path)
    if p.is_dir():
        _check_manifest(p)
    if p.is_dir():
        _check_foreign(p, path, what, force, tuple(writes))
    files = tuple(Path(os.path.realpath(_resolved(i))) for i in inputs if i is not None)
    return OutputFolder(p, force, files)


def _check_foreign(p: Path, path: Path | str, what: str, force: bool,
                   writes: tuple[str, ...] = ()) -> None:
    """Refuse a folder holding files cobic did not write (unless ``force``: written beside
    them) or cobic outputs edited since (always: the edits are the user's), and files of the
    user's with the names the command writes (always: --force could not help)."""
    others = _foreign_files(p)
    clash = [f for f in others if f in writes]
    if clash:
        raise OutputError(f"{what} {path} holds files of yours named as this command's outputs "
                          f"({_shown(clash)}). cobic never overwrites a file it did not write, "
                          "even with --force: move or rename them, or choose a new folder.")
    edited = [f for f in others if f.endswith(_EDITED)]
    if edited:
        raise OutputError(f"{what} {path} holds outputs cobic wrote that were changed since "
                          f"({_shown(edited)}). cobic does not overwrite them, even with "
                          "--force, as the changes are yours: move or rename them, or choose "
                          "a new folder.")
    if others and not force:
        raise OutputError(f"{what} {path} already holds files cobic did not write "
                          f"({_shown(others)}). cobic never deletes or overwrites a file it "
                          "did not write: choose a new folder, or give --force to add cobic's "
                          "outputs beside the others.")


def _shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


_EDITED = ", changed since cobic wrote it"


def _foreign_files(folder: Path) -> list[str]:
    """Files (relative paths) in ``folder`` that cobic did not write, or that were edited."""
    out = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if f.is_dir() and not f.is_symlink() or f.name == MANIFEST or _TMP_TAG in rel:
            continue
        state = _ownership(folder, rel)
        if state != "cobic":
            out.append(rel if state == "user" else rel + _EDITED)
    return out


def check_distinct(*outputs: OutputFile | OutputFolder | None) -> None:
    """Two outputs of one command may not be the same path, nor one inside the other."""
    given = [o.path for o in outputs if o is not None]
    for i, a in enumerate(given):
        for b in given[i + 1:]:
            if _inside(a, b) or _inside(b, a):
                raise OutputError(f"two outputs of this command would be written to {a} and "
                                  f"{b}: give each its own path")


# ------------------------------------------------------------------ writing

def _replace_with(target: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename it onto ``target``."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}{_TMP_TAG}",
                               suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_file(out: OutputFile | Path | str, write: Callable[[Path], None],
               command: str = "cobic") -> Path:
    """Write one output file atomically and record it in its folder's manifest.

    ``write`` is called with a temporary path to write to. The checks of
    :func:`check_output_file` are repeated just before the rename.
    """
    out = out if isinstance(out, OutputFile) else check_output_file(out)
    p = out.path
    _refuse_existing(p, _ownership(p.parent, p.name), out.force)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        _replace_with(p, write)
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
    _write_manifest(p.parent, {p.name: {"sha256": _sha256(p), "command": command}})
    return p


def earlier_outputs(folder: Path | str, written: Iterable[str]) -> list[str]:
    """Files (relative paths) cobic wrote in ``folder`` on an earlier run, still there and
    unchanged, that are not among ``written``: outputs of another run that a reader could take
    for this one's (cobic never deletes them; the command names them)."""
    folder = Path(folder)
    done = set(written)
    return sorted(rel for rel in _read_manifest(folder)
                  if rel not in done and (folder / rel).is_file()
                  and _ownership(folder, rel) == "cobic")


@contextmanager
def output_folder(out: OutputFolder | Path | str, command: str = "cobic",
                  earlier: list[str] | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block ends without error its files go into
    the output folder (each by an atomic rename) and are recorded in its manifest.

    A new folder appears whole, by one rename. Into an existing folder only cobic's unchanged
    outputs are replaced (never one edited since, even with ``force``); if any file to be
    written would replace another file, nothing is written and :class:`OutputError` says which.
    ``earlier``, when given, receives the outputs of an earlier run left in the folder
    (:func:`earlier_outputs`), but for this command's inputs.
    """
    out = out if isinstance(out, OutputFolder) else check_output_folder(out)
    target = out.path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{_TMP_TAG}"))
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    try:
        yield tmp
        files = sorted(f.relative_to(tmp).as_posix() for f in tmp.rglob("*") if f.is_file())
        entries = {rel: {"sha256": _sha256(tmp / rel), "command": command} for rel in files}
        for p in tmp.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        tmp.chmod(0o755)
        if not target.exists():
            _write_manifest(tmp, entries)
            os.rename(tmp, target)
            return
        for rel in files:  # check everything before moving anything
            if (target / rel).parent.exists() and not (target / rel).parent.is_dir():
                raise OutputError(f"{target / rel}: {(target / rel).parent} is a file")
            if Path(os.path.realpath(target / rel)) in out.inputs:
                raise OutputError(f"{target / rel} is an input of this command: cobic never "
                                  "writes over its inputs. Choose another output folder.")
            _refuse_existing(target / rel, _ownership(target, rel), out.force)
        if earlier is not None:
            earlier.extend(rel for rel in earlier_outputs(target, files)  # not an input
                           if Path(os.path.realpath(target / rel)) not in out.inputs)
        for rel in files:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, target / rel)
        _write_manifest(target, entries)
    except OSError as e:
        raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
