"""extract_image_zip against hostile and odd archives built in the test; nothing escapes dest_dir."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from lab import uploads
from lab.errors import InputError
from tests.zipgen import make_zip, shape_image, shapes_members


def extract(tmp_path, data: bytes):
    archive = tmp_path / "upload.zip"
    archive.write_bytes(data)
    dest = tmp_path / "dest"
    dest.mkdir(exist_ok=True)
    return uploads.extract_image_zip(archive, dest), dest


def nothing_outside(tmp_path):
    allowed = {tmp_path / "upload.zip", tmp_path / "dest"}
    strays = [p for p in tmp_path.iterdir() if p not in allowed]
    assert strays == [], strays
    assert not (tmp_path.parent / "x").exists()


def test_good_archive_with_wrapper_folder_and_macos_junk(tmp_path):
    members = shapes_members(6, root="flowers/")
    members["__MACOSX/flowers/._red"] = b"junk"
    members["flowers/.DS_Store"] = b"junk"
    members["flowers/red/Thumbs.db"] = b"junk"
    classes, dest = extract(tmp_path, make_zip(members))
    assert sorted(classes) == ["blue", "green", "red"] and all(len(v) == 6 for v in classes.values())
    assert classes.ignored == 3 and classes.unreadable == 0
    assert all(path.resolve().is_relative_to(dest.resolve()) for paths in classes.values() for path in paths)
    nothing_outside(tmp_path)


def test_ten_percent_corrupt_images_are_skipped_and_counted(tmp_path):
    members = shapes_members(10)
    for name in ("red/0.png", "green/0.png", "blue/0.png"):
        members[name] = members[name][:60]  # truncated
    classes, _ = extract(tmp_path, make_zip(members))
    assert classes.unreadable == 3 and all(len(v) == 9 for v in classes.values())


@pytest.mark.parametrize(
    ("bad_name", "fragment"),
    [("../x", "'..'"), ("/abs/evil.png", "absolute"), ("C:\\x.png", "absolute"), ("..\\x.png", "backslashes")],
)
def test_zip_slip_members_are_refused(tmp_path, bad_name, fragment):
    members = shapes_members(6)
    members[bad_name] = shape_image((0, 0, 0), 1)
    with pytest.raises(InputError, match=fragment):
        extract(tmp_path, make_zip(members))
    assert list((tmp_path / "dest").iterdir()) == []
    nothing_outside(tmp_path)


def test_symlink_member_is_refused(tmp_path):
    with pytest.raises(InputError, match="symbolic link"):
        extract(tmp_path, make_zip(shapes_members(6), symlinks={"red/link.png": "/etc/passwd"}))


def test_ratio_bomb_is_refused_before_writing(tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in shapes_members(6).items():
            handle.writestr(name, data)
        with handle.open("red/huge.png", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(1024):  # 1 GB of zeros, about 1 MB compressed
                member.write(chunk)
    (tmp_path / "dest").mkdir()
    with pytest.raises(InputError, match=r"MB|expands"):
        uploads.extract_image_zip(archive, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_nested_zip_is_refused(tmp_path):
    members = shapes_members(6)
    members["red/inner.zip"] = make_zip({"a.png": shape_image((1, 2, 3), 0)})
    with pytest.raises(InputError, match="archive inside"):
        extract(tmp_path, make_zip(members))


def test_too_many_members_is_refused(tmp_path):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as handle:
        for i in range(200_000):
            handle.writestr(f"c{i % 2}/{i}.txt", b"")
    (tmp_path / "dest").mkdir()
    with pytest.raises(InputError, match="200,000 entries"):
        uploads.extract_image_zip(archive, tmp_path / "dest")


def test_encrypted_truncated_one_class_and_empty_class(tmp_path):
    with pytest.raises(InputError, match="encrypted"):
        extract(tmp_path, make_zip(shapes_members(6), encrypt_flag=True))
    good = make_zip(shapes_members(6))
    with pytest.raises(InputError, match="not a readable zip"):
        extract(tmp_path, good[: len(good) // 2])
    with pytest.raises(InputError, match="at least 2"):
        extract(tmp_path, make_zip({f"red/{i}.png": shape_image((200, 0, 0), i) for i in range(6)}))
    members = shapes_members(6)
    members["purple/"] = b""
    with pytest.raises(InputError, match="'purple' has no images"):
        extract(tmp_path, make_zip(members))


def test_split_files_follows_homl_proportions(tmp_path):
    classes, _ = extract(tmp_path, make_zip(shapes_members(20)))
    train, valid, test, names = uploads.split_files(classes, seed=1)
    assert names == ["blue", "green", "red"]
    assert (len(train), len(valid), len(test)) == (45, 9, 6)
    assert not {p for p, _ in train} & {p for p, _ in test}


def test_a_damaged_member_is_a_message_not_a_crash(tmp_path):
    data = bytearray(make_zip(shapes_members(6)))
    start = data.find(b"IDAT")  # inside the first PNG's compressed bytes: the CRC no longer matches
    data[start + 8] ^= 0xFF
    with pytest.raises(InputError, match=r"damaged|not a readable zip"):
        uploads.extract_image_zip(bytes(data), tmp_path / "dest")


def staged_listing(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_concurrent_uploads_each_get_their_own_complete_staging(tmp_path):
    """Eight sessions upload the same zip and four others their own, all at the same moment."""
    import threading

    same = make_zip(shapes_members(8))
    others = [make_zip(shapes_members(5 + i, classes={"a": (200, 0, 0), "b": (0, 0, 200)})) for i in range(4)]
    folder = tmp_path / "uploads"
    jobs = [same] * 8 + others
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def upload(index: int) -> None:
        barrier.wait()
        try:
            results[index] = uploads.stage_zip(jobs[index], folder)
        except Exception as error:  # recorded, so the assertion shows it
            results[index] = error

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for index, staged in enumerate(results):
        assert isinstance(staged, uploads.StagedZip), staged
        expected = 3 * 8 if index < 8 else 2 * (5 + index - 8)
        assert staged.count == expected and all(path.exists() for paths in staged.classes.values() for path in paths)
    assert len({staged.path for staged in results[:8]}) == 1  # one staging for the same bytes
    assert len(staged_listing(folder)) == 5 and not any(name.startswith(".part") for name in staged_listing(folder))
    assert [p for p in tmp_path.iterdir()] == [folder]  # nothing written outside the uploads folder


def test_a_refused_upload_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "uploads"
    with pytest.raises(InputError):
        uploads.stage_zip(make_zip({**shapes_members(6), "../evil.png": b"x"}), folder)
    with pytest.raises(InputError):
        uploads.stage_zip(b"not a zip at all", folder)
    assert staged_listing(folder) == []
    staged = uploads.stage_zip(make_zip(shapes_members(6)), folder)
    again = uploads.stage_zip(make_zip(shapes_members(6)), folder)  # the same bytes: reused, not rechecked
    assert again == staged and staged_listing(folder) == [staged.path.name]


def test_your_class_folders_load_square_resized_and_split_per_class(tmp_path):
    staged = uploads.stage_zip(make_zip(shapes_members(20)), tmp_path / "uploads")
    data = uploads.load_folders(staged.path, 24, seed=3)
    assert data.class_names == ["blue", "green", "red"] and data.input_shape == (24, 24, 3)
    assert (len(data.x_train), len(data.x_valid), len(data.x_test)) == (3 * 15, 3 * 3, 3 * 2)
    assert set(data.y_test) == {0, 1, 2} and data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    again = uploads.load_folders(staged.path, 24, seed=3)
    np.testing.assert_array_equal(data.x_train, again.x_train)  # seeded: the script splits the same way
    with pytest.raises(InputError, match="upload the zip again"):
        uploads.load_folders(tmp_path / "gone", 24)


def test_captured_pictures_become_a_zip_the_same_reader_accepts(tmp_path):
    pictures = {"thumbs up": [shape_image((200, 40, 40), i) for i in range(5)], "fist": []}
    pictures["fist"] = [shape_image((40, 40, 200), i) for i in range(5)]
    staged = uploads.stage_zip(uploads.class_folders_zip(pictures), tmp_path / "uploads")
    assert {name: len(paths) for name, paths in staged.classes.items()} == {"fist": 5, "thumbs up": 5}
    for hostile in ("../up", "a/b", "", " ", "x" * 41, "-rf"):
        with pytest.raises(InputError, match=r"Class names|a name"):
            uploads.class_folders_zip({hostile: pictures["fist"]})


def test_a_learners_staged_upload_is_found_again_from_another_session(tmp_path):
    """A Streamlit process that died took its learners' uploads: the staged folders stay, and the
    workspace remembers which one each learner used, so the process they reconnect to finds it."""
    staged = uploads.stage_zip(make_zip(shapes_members(6)), tmp_path / "uploads", "pets.zip")
    learners = tmp_path / "learners"
    assert uploads.recall_upload(learners, "abc123", "train") is None
    uploads.remember_upload(learners, "abc123", "train", staged)
    found = uploads.recall_upload(learners, "abc123", "train")
    assert found.path == staged.path and found.count == staged.count
    assert uploads.recall_upload(learners, "someoneelse", "train") is None
    uploads.forget_upload(learners, "abc123", "train")
    assert uploads.recall_upload(learners, "abc123", "train") is None
    with pytest.raises(InputError):
        uploads.remember_upload(learners, "../../etc", "train", staged)
