"""Uploaded class folders: a learner's zip (or webcam captures) checked, extracted and staged, and read
back as a :class:`lab.datasets.Dataset` to train from scratch or fine-tune.

An upload is hostile until proven otherwise: members are counted and sized before anything is read
(zip bombs, zip-slip paths, junk files, archives inside), every image decoded under Pillow's limits
(:mod:`lab.images`), and a staged upload is remembered per learner so a page reload keeps it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from lab import images, safety
from lab.datasets import Dataset
from lab.errors import InputError, describe_value
from recipes import data as recipe

MAX_ZIP_MEMBERS = 20_000
MAX_ZIP_TOTAL_BYTES = 1024 * 1024 * 1024  # uncompressed, summed (declared and counted)
MAX_MEMBER_BYTES = 20 * 1024 * 1024  # one image
MIN_CLASSES, MIN_PER_CLASS = 2, 5
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"}
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


class ClassFolders(dict):
    """{class name: [image paths]} plus what extraction skipped."""

    def __init__(self, classes: dict, unreadable: int = 0, ignored: int = 0):
        super().__init__(classes)
        self.unreadable = unreadable  # images that failed to decode: skipped
        self.ignored = ignored  # junk (__MACOSX, .DS_Store, non-images)


STAGED_NOTE = "staged.json"  # written last into a staged upload: what extraction skipped


def member_problem(info) -> str | None:
    """Why a zip member is refused (an absolute or climbing path, a symlink, a nested archive), or None."""
    import re

    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return f"{name!r} has an absolute path"
    if "\\" in name:
        return f"{name!r} uses backslashes (a Windows path that could escape the folder)"
    if ".." in name.split("/"):
        return f"{name!r} climbs out of the folder with '..'"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return f"{name!r} is a symbolic link"
    if Path(name).suffix.lower() in ARCHIVE_SUFFIXES:
        return f"{name!r} is an archive inside the archive"
    return None


def _is_junk(name: str) -> bool:
    parts = name.split("/")
    return any(part == "__MACOSX" or part.startswith("._") or part.lower() in JUNK_NAMES for part in parts)


def _class_members(infos) -> tuple[dict[str, list], int]:
    """{class: [image members]} from ``class/image`` (or ``top/class/image``) paths, and the count ignored."""
    files = [info for info in infos if not info.is_dir()]
    kept = [info for info in files if not _is_junk(info.filename)]
    pictures = [info for info in kept if Path(info.filename).suffix.lower() in IMAGE_SUFFIXES]
    ignored = len(files) - len(pictures)
    parts = [info.filename.strip("/").split("/") for info in pictures]
    tops = {p[0] for p in parts}
    depth = 1 if len(tops) == 1 and all(len(p) >= 3 for p in parts) else 0  # one extra wrapping folder
    by_class: dict[str, list] = {}
    for info, path_parts in zip(pictures, parts, strict=True):
        if len(path_parts) != depth + 2:
            ignored += 1  # loose files at the root, or deeper nesting than class/image
            continue
        by_class.setdefault(path_parts[depth], []).append(info)
    folders = set()
    for info in infos:
        path_parts = info.filename.strip("/").split("/")
        if info.is_dir() and len(path_parts) == depth + 1 and not _is_junk(info.filename):
            folders.add(path_parts[depth])
    for empty in sorted(folders - set(by_class)):
        raise InputError(f"Class folder {empty!r} has no images (each class needs at least {MIN_PER_CLASS}).")
    if len(by_class) < MIN_CLASSES:
        found = ", ".join(sorted(by_class)) or "none"
        raise InputError(f"Found {len(by_class)} class folder(s) ({found}); a dataset needs at least {MIN_CLASSES}.")
    return by_class, ignored


def _read_images(archive, by_class: dict[str, list]) -> tuple[dict[str, list[tuple[str, bytes]]], int]:
    """Read and decode every member, counting bytes (headers can lie); unreadable images are skipped."""
    import zipfile

    counted = unreadable = 0
    decoded: dict[str, list[tuple[str, bytes]]] = {}
    for name, members in sorted(by_class.items()):
        for info in members:
            try:
                with archive.open(info) as handle:
                    data = handle.read(MAX_MEMBER_BYTES + 1)  # counted, not trusted
            except (zipfile.BadZipFile, OSError, EOFError) as error:  # a bad CRC, a truncated member
                raise InputError(f"Refused: {info.filename!r} is damaged ({error}).") from None
            counted += len(data)
            if len(data) > MAX_MEMBER_BYTES or counted > MAX_ZIP_TOTAL_BYTES:
                raise InputError("Refused: the archive holds more data than its headers declare.")
            try:
                images.load_image(data)
            except InputError:
                unreadable += 1
                continue
            decoded.setdefault(name, []).append((Path(info.filename).suffix.lower(), data))
    for name in sorted(by_class):
        count = len(decoded.get(name, []))
        if count < MIN_PER_CLASS:
            raise InputError(f"Class {name!r} has {count} readable images; each class needs at least {MIN_PER_CLASS}.")
    return decoded, unreadable


def _write_classes(decoded: dict[str, list[tuple[str, bytes]]], dest: Path) -> dict[str, list[Path]]:
    import re

    result: dict[str, list[Path]] = {}
    for name, items in sorted(decoded.items()):
        safe = re.sub(r"[^\w .-]", "_", name).strip(" .") or "class"
        folder = (dest / safe).resolve()
        if not folder.is_relative_to(dest):
            raise InputError(f"Refused: class name {name!r} would leave the folder.")
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, (suffix, data) in enumerate(items):
            path = folder / f"{index:05d}{suffix}"
            path.write_bytes(data)
            paths.append(path)
        result[name] = paths
    return result


def extract_image_zip(source, dest_dir) -> ClassFolders:
    """Safely extract a zip of class folders (``cats/1.jpg``, ``dogs/2.png``, ...).

    Every member is checked before anything is written: no absolute paths, ``..``, backslashes,
    drive letters, symlinks, encrypted or nested archives; member count, sizes and compression
    ratio are capped (:func:`lab.safety.check_zip_sizes`), and bytes are counted while reading.
    macOS and Windows junk is ignored; one extra top folder (``flowers/roses/...``) is looked
    through. Images are decoded with :func:`lab.images.load_image`: unreadable ones are skipped and
    counted. Files are written as ``dest_dir/<class>/<n><suffix>``: nothing lands outside.

    Args:
        source: The zip's bytes, or a path to it.
        dest_dir: Where the class folders go.

    Raises:
        InputError: With the reason, for any refusal; nothing is written in that case.
    """
    import io
    import zipfile

    dest = Path(dest_dir).resolve()
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except (zipfile.BadZipFile, OSError):
        raise InputError("This is not a readable zip file (damaged, truncated, or another format).") from None
    with archive:
        infos = archive.infolist()
        for info in infos:
            problem = member_problem(info)
            if problem:
                raise InputError(f"Refused: {problem}.")
        safety.check_zip_sizes(
            infos,
            max_members=MAX_ZIP_MEMBERS,
            max_total_bytes=MAX_ZIP_TOTAL_BYTES,
            max_member_bytes=MAX_MEMBER_BYTES,
        )
        by_class, ignored = _class_members(infos)
        decoded, unreadable = _read_images(archive, by_class)
    return ClassFolders(_write_classes(decoded, dest), unreadable, ignored)


@dataclass(frozen=True)
class StagedZip:
    """An uploaded zip of class folders, checked and extracted once (keyed by its content)."""

    path: Path  # the extracted class folders
    classes: dict[str, list[Path]]
    unreadable: int
    ignored: int

    @property
    def count(self) -> int:
        return sum(map(len, self.classes.values()))


def _staged(path: Path) -> StagedZip:
    skipped = json.loads((path / STAGED_NOTE).read_text())
    classes = {p.name: sorted(p.iterdir()) for p in sorted(path.iterdir()) if p.is_dir()}
    return StagedZip(path, classes, skipped["unreadable"], skipped["ignored"])


def folder_label(data_dir: str | Path) -> str:
    """A staged upload as a learner names it: the zip's file name and its class count (never the
    server's path or the content hash the folder is named by)."""
    folder = Path(data_dir)
    note = folder / STAGED_NOTE
    name = json.loads(note.read_text()).get("name") if note.exists() else None
    classes = len(folder_class_names(folder)) if folder.is_dir() else 0
    return f"{name or 'your pictures'} ({classes} classes)" if classes else (name or "your pictures (gone)")


def first_picture(data_dir: str | Path) -> Path | None:
    """The first picture of the first class folder of a staged upload (None: nothing there)."""
    folder = Path(data_dir)
    for name in folder_class_names(folder) if folder.is_dir() else []:
        files = sorted(path for path in (folder / name).iterdir() if path.is_file())
        if files:
            return files[0]
    return None


def script_folder(data_dir: str | Path) -> str | None:
    """The folder a learner gets by unzipping their upload (``pets.zip`` -> ``pets``); None when the
    upload has no name (staged before names were kept)."""
    note = Path(data_dir) / STAGED_NOTE
    name = json.loads(note.read_text()).get("name") if note.exists() else None
    if not name:
        return None
    return "my_classes" if name == WEBCAM_CAPTURES else Path(name).stem


WEBCAM_CAPTURES = "webcam captures"  # the name staged webcam pictures go by (downloaded as my_classes.zip)


def shareable_settings(config: dict) -> dict:
    """A run's settings as a page may show them to anyone: the uploaded data by name, not its path."""
    shown = {key: value for key, value in config.items() if key != "data_dir"}
    if config.get("data_dir"):
        shown["data"] = folder_label(config["data_dir"])
    return shown


def stage_zip(data: bytes, uploads_dir: Path, name: str | None = None) -> StagedZip:
    """Check and extract an uploaded zip into ``uploads_dir/<content hash>``, once per content.

    Each call extracts into a private temporary folder and renames it into place, so sessions
    uploading the same zip at the same moment never share a half-written folder; the first rename
    wins and the others' copies are removed. A refused zip leaves nothing behind. A staged folder
    is reused by every later upload of the same bytes (and by a run's ``?run=`` link). ``name`` (the
    zip's file name) is what pages call the data (:func:`folder_label`).

    Raises:
        InputError: For any refusal (see :func:`extract_image_zip`).
    """
    import hashlib
    import shutil
    import tempfile

    uploads_dir = Path(uploads_dir)
    target = uploads_dir / hashlib.sha256(data).hexdigest()[:24]
    if (target / STAGED_NOTE).exists():
        target.touch()  # in use: the clean-up keeps uploads by their last use
        return _staged(target)
    uploads_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".part-", dir=uploads_dir))
    try:
        found = extract_image_zip(data, scratch)
        note = {"unreadable": found.unreadable, "ignored": found.ignored, "name": name}
        (scratch / STAGED_NOTE).write_text(json.dumps(note))  # the first upload of these bytes names them
        try:
            scratch.rename(target)
        except OSError:  # another session staged the same bytes first: use theirs
            if not (target / STAGED_NOTE).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _staged(target)


def _record(learners_dir: Path, owner: str, prefix: str) -> Path:
    if not (owner.isalnum() and prefix.replace("_", "").isalnum()):
        raise InputError(f"Not a learner or page name: {describe_value(owner)}, {describe_value(prefix)}.")
    return Path(learners_dir) / owner / f"{prefix}.json"


def remember_upload(learners_dir: Path, owner: str, prefix: str, staged: StagedZip) -> None:
    """Note which staged upload a learner uses on a page, in the workspace (not the session): when
    their server process dies, the process their browser reconnects to finds it."""
    record = _record(learners_dir, owner, prefix)
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_suffix(".part")
    partial.write_text(json.dumps({"path": str(staged.path)}))
    os.replace(partial, record)


def recall_upload(learners_dir: Path, owner: str, prefix: str) -> StagedZip | None:
    """The staged upload a learner last used on a page, if it is still there."""
    record = _record(learners_dir, owner, prefix)
    try:
        path = Path(json.loads(record.read_text())["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _staged(path) if (path / STAGED_NOTE).exists() else None


def forget_upload(learners_dir: Path, owner: str, prefix: str) -> None:
    _record(learners_dir, owner, prefix).unlink(missing_ok=True)


def clean_uploads(uploads_dir: Path, keep: set[Path], max_age_seconds: float = 7 * 86400) -> list[Path]:
    """Remove staged uploads unused for ``max_age_seconds`` (not in ``keep``) and half-written
    ``.part-`` folders an hour old (a server killed mid-extraction). Returns what was removed."""
    import shutil
    import time

    uploads_dir, now, removed = Path(uploads_dir), time.time(), []
    if not uploads_dir.is_dir():
        return removed
    keep = {Path(path).resolve() for path in keep}
    for path in uploads_dir.iterdir():
        age = now - path.stat().st_mtime
        stale = age > 3600 if path.name.startswith(".part-") else age > max_age_seconds
        if path.is_dir() and stale and path.resolve() not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


split_files = recipe.split_files  # HOML's proportions per class: 10% test, 15% validation, shuffled


FOLDER_IMAGE_SIZES = (32, 64, 96)  # what the Train page offers; any side from 8 to 128 is accepted


def folder_class_names(data_dir: str | Path) -> list[str]:
    """The class folders of an extracted upload, sorted (the class index order)."""
    return sorted(path.name for path in Path(data_dir).iterdir() if path.is_dir())


def load_folders(data_dir: str | Path, image_size: int, seed: int = 42) -> Dataset:
    """Class folders (a staged upload) as a :class:`Dataset` trained from scratch.

    Each image is centre-cropped to a square and resized to ``image_size`` (Pillow, antialiased),
    as Keras' ``image_dataset_from_directory(crop_to_aspect_ratio=True)`` does; pixels in [0, 1],
    RGB. Split per class with :func:`split_files` (10% test, 15% validation), shuffled by ``seed``.

    Raises:
        InputError: The folder is not there (an upload cleaned away) or an image cannot be read.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError("The uploaded class folders are gone (cleaned up after a week unused): upload the zip again.")
    train, valid, test, names = recipe.class_folders(folder, image_size, seed, read=images.load_image)
    return Dataset(folder_label(folder), *train, *valid, *test, names, flip_ok=True)


MAX_CLASS_NAME = 40


def class_name(text: str) -> str:
    """A class folder name typed by a learner: letters, digits, spaces, ``-`` and ``_``; trimmed.

    Raises:
        InputError: Empty, too long, or with other characters (``/``, ``..``: it names a folder).
    """
    name = str(text).strip()
    if not name:
        raise InputError("Give the class a name first (e.g. 'thumbs up').")
    if len(name) > MAX_CLASS_NAME or not all(ch.isalnum() or ch in " -_" for ch in name) or name.startswith("-"):
        raise InputError(
            f"Class names take letters, digits, spaces, '-' and '_' (at most {MAX_CLASS_NAME}), "
            f"got {describe_value(name)}."
        )
    return name


def class_folders_zip(pictures: dict[str, list[bytes]]) -> bytes:
    """Pictures by class (e.g. webcam captures) as a zip of class folders: ``<class>/0001.jpg``.

    The zip is what the page offers for download and what :func:`stage_zip` then reads, through
    the same checks as any uploaded zip.
    """
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # JPEGs do not compress
        for name, shots in sorted(pictures.items()):
            folder = class_name(name)
            for index, data in enumerate(shots, start=1):
                archive.writestr(f"{folder}/{index:04d}.jpg", data)
    return buffer.getvalue()
