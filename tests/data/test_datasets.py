"""dlarena.data.catalogue: file formats on tiny files made here, real data sets where installed.

The real-data tests skip on a developer machine that has not run scripts/install-data.sh,
but fail under CI=true, where a skipped convergence data set would go unnoticed.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlarena.data import catalogue as datasets
from dlarena.data.catalogue import Dataset, DatasetUnavailable, checksum, load, read_idx

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def write_idx(path: Path, array: np.ndarray, type_code: int, *, compress: bool) -> Path:
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    raw = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += big_endian.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No data set anywhere: empty cache, no Debian dir, no installed wheels, no network."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("DLARENA_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "missing")
    monkeypatch.setattr(datasets, "packaged_file", lambda dist, relative: None)

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"urlopen called: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return cache / "dlarena" / "datasets"


# --- (a) IDX --------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_uint8_images(tmp_path: Path, compress: bool) -> None:
    images = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4)
    got = read_idx(write_idx(tmp_path / "x.idx", images, 0x08, compress=compress))
    assert got.shape == (3, 2, 4)
    np.testing.assert_array_equal(got, images)


def test_read_idx_multibyte_types_are_big_endian(tmp_path: Path) -> None:
    values = np.array([1, -2, 70000, 2**30], dtype=np.int32)
    got = read_idx(write_idx(tmp_path / "i.idx", values, 0x0C, compress=False))
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)
    floats = np.array([[0.5, -1.25]], dtype=np.float32)
    np.testing.assert_array_equal(
        read_idx(write_idx(tmp_path / "f.idx", floats, 0x0D, compress=True)), floats
    )


def test_read_idx_rejects_bad_header_and_truncated_data(tmp_path: Path) -> None:
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"\x01\x02")
    with pytest.raises(ValueError, match="needs 5 data bytes"):
        read_idx(short)


def test_fashion_mnist_from_idx_dir_is_flat_unit_float(
    offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "fashion"
    directory.mkdir()
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    train[0, 0, 0], train[0, 0, 1] = 0, 255
    write_idx(directory / IDX_FILES[0], train, 0x08, compress=True)
    write_idx(directory / IDX_FILES[1], np.array([0, 1, 2, 9, 3], np.uint8), 0x08, compress=True)
    write_idx(directory / IDX_FILES[2], train[:2], 0x08, compress=True)
    write_idx(directory / IDX_FILES[3], np.array([4, 5], np.uint8), 0x08, compress=True)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", directory)

    data = load("fashion-mnist")
    assert data.source == str(directory)
    assert data.train_inputs.shape == (5, 784) and data.train_inputs.dtype == np.float32
    assert data.train_inputs.min() == 0.0 and data.train_inputs.max() == 1.0
    np.testing.assert_allclose(data.train_inputs[1], train[1].reshape(-1) / 255.0, rtol=1e-6)
    assert data.train_labels.dtype == np.int64 and data.train_labels.tolist() == [0, 1, 2, 9, 3]
    assert data.test_inputs.shape == (2, 784) and data.test_labels.tolist() == [4, 5]


# --- (b) MovieLens leave-one-out ------------------------------------------------------------

INTER = """user_id:token\titem_id:token\trating:float\ttimestamp:float
10\t500\t4\t100
10\t7\t3\t300
10\t42\t5\t200
2\t42\t1\t50
2\t500\t2\t60
2\t9\t5\t60
7\t7\t3\t10
"""


def test_read_movielens_inter_leave_one_out(tmp_path: Path) -> None:
    path = tmp_path / "tiny.inter"
    path.write_text(INTER)
    data = datasets.read_movielens_inter(path)

    # Ids follow numeric order of the raw ids: users 2, 7, 10 -> 0, 1, 2; items 7, 9, 42, 500.
    assert (data.users, data.items) == (3, 4)
    user = {2: 0, 7: 1, 10: 2}
    item = {7: 0, 9: 1, 42: 2, 500: 3}
    held_out = {tuple(row) for row in data.test_inputs.tolist()}
    assert held_out == {
        (user[10], item[7]),  # latest, timestamp 300, though not last in the file
        (user[2], item[500]),  # tie at timestamp 60 goes to the larger item id
        (user[7], item[7]),  # a user's only interaction is its test positive
    }
    train = {tuple(row) for row in data.train_inputs.tolist()}
    assert train == {
        (user[10], item[500]),
        (user[10], item[42]),
        (user[2], item[42]),
        (user[2], item[9]),
    }
    assert not train & held_out
    assert data.train_inputs.dtype == np.int64 and data.train_inputs.shape == (4, 2)
    assert data.test_inputs.dtype == np.int64 and data.test_inputs.shape == (3, 2)
    assert data.train_labels.dtype == np.int64 and set(data.train_labels.tolist()) == {1}
    assert data.test_labels.tolist() == [1, 1, 1]
    assert sorted(data.test_inputs[:, 0].tolist()) == [0, 1, 2]
    assert data.source == str(path)


def test_read_movielens_inter_finds_columns_by_name(tmp_path: Path) -> None:
    path = tmp_path / "shuffled.inter"
    path.write_text("timestamp:float\titem_id:token\tuser_id:token\n5\ta\tu\n9\tb\tu\n1\tc\tv\n")
    data = datasets.read_movielens_inter(path)
    assert (data.users, data.items) == (2, 3)
    assert data.test_inputs.tolist() == [[0, 1], [1, 2]]  # u's latest is b; v's only is c
    missing = tmp_path / "missing.inter"
    missing.write_text("user_id:token\titem_id:token\n1\t2\n")
    with pytest.raises(ValueError, match="timestamp"):
        datasets.read_movielens_inter(missing)


def test_movielens_from_grouplens_zip_in_cache(offline: Path) -> None:
    offline.mkdir(parents=True)
    body = "".join(line + "\n" for line in INTER.splitlines()[1:])  # u.data has no header
    with zipfile.ZipFile(offline / "ml-100k.zip", "w") as bundle:
        bundle.writestr("ml-100k/u.data", body)
    data = load("movielens-100k")
    expected = datasets.read_movielens_inter(_write(offline / "x.inter", INTER))
    np.testing.assert_array_equal(data.test_inputs, expected.test_inputs)
    np.testing.assert_array_equal(data.train_inputs, expected.train_inputs)
    assert data.source.endswith("ml-100k.zip:ml-100k/u.data")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- MNIST pickle --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4])
def test_mnist_pickle_uses_train_and_test_not_validation(offline: Path, protocol: int) -> None:
    offline.mkdir(parents=True)
    split = [
        (np.full((n, 784), v, np.float32), np.full(n, v * 10, np.int64))
        for n, v in ((4, 0.1), (3, 0.5), (2, 0.9))
    ]
    with gzip.open(offline / "mnist.pkl.gz", "wb") as out:
        pickle.dump(tuple(split), out, protocol=protocol)
    data = load("mnist")
    assert data.train_inputs.shape == (4, 784) and data.test_inputs.shape == (2, 784)
    assert data.train_inputs.dtype == np.float32 and data.train_labels.dtype == np.int64
    np.testing.assert_allclose(data.test_inputs, 0.9)
    assert data.source == str(offline / "mnist.pkl.gz")


def test_mnist_pickle_refuses_anything_but_arrays(offline: Path) -> None:
    offline.mkdir(parents=True)
    with gzip.open(offline / "mnist.pkl.gz", "wb") as out:
        pickle.dump((os.getcwd, None, None), out, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load("mnist")


# --- (c) the real data sets ----------------------------------------------------------------

EXPECTED = {
    # name: (train shape, test shape, label set)
    "fashion-mnist": ((60000, 784), (10000, 784), set(range(10))),
    "mnist": ((50000, 784), (10000, 784), set(range(10))),
    "movielens-100k": ((99057, 2), (943, 2), {1}),
}


def load_or_skip(name: str) -> Dataset:
    try:
        return load(name)
    except DatasetUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have every data set (scripts/install-data.sh): {error}")
        pytest.skip(str(error))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_dataset(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLARENA_ALLOW_DOWNLOAD", raising=False)
    data = load_or_skip(name)
    train_shape, test_shape, labels = EXPECTED[name]
    assert data.name == name
    assert Path(data.source.split(":")[0]).exists()
    assert data.train_inputs.shape == train_shape and data.test_inputs.shape == test_shape
    assert data.train_labels.shape == train_shape[:1]
    assert data.test_labels.shape == test_shape[:1]
    assert data.train_labels.dtype == np.int64 and data.test_labels.dtype == np.int64
    assert set(np.unique(data.train_labels).tolist()) == labels
    assert set(np.unique(data.test_labels).tolist()) == labels
    if name == "movielens-100k":
        assert (data.users, data.items) == (943, 1682)
        for inputs in (data.train_inputs, data.test_inputs):
            assert inputs.dtype == np.int64
            assert inputs[:, 0].min() == 0 and inputs[:, 0].max() == data.users - 1
            assert inputs[:, 1].min() >= 0 and inputs[:, 1].max() < data.items
        assert np.array_equal(np.unique(data.test_inputs[:, 0]), np.arange(data.users))
        train = {tuple(row) for row in data.train_inputs.tolist()}
        assert not train & {tuple(row) for row in data.test_inputs.tolist()}
        assert len(np.unique(data.train_inputs[:, 1])) > 1600  # nearly every item is trained on
    else:
        for inputs in (data.train_inputs, data.test_inputs):
            assert inputs.dtype == np.float32
            assert inputs.min() == 0.0 and 0.99 <= inputs.max() <= 1.0
        assert np.bincount(data.train_labels).min() > train_shape[0] // 20  # every class present


# --- (d) the error a missing data set raises -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("fashion-mnist", "apt-get install dataset-fashion-mnist"),
        ("mnist", "bash scripts/install-data.sh"),
        ("movielens-100k", "bash scripts/install-data.sh"),
    ],
)
def test_unavailable_message_is_one_line_naming_the_install(
    offline: Path, name: str, command: str
) -> None:
    with pytest.raises(DatasetUnavailable) as caught:
        load(name)
    message = str(caught.value)
    assert "\n" not in message
    assert f"`{command}`" in message
    assert "DLARENA_ALLOW_DOWNLOAD=1" in message


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="fashion-mnist, mnist, movielens-100k"):
        load("cifar-10")
    assert sorted(datasets.DATASETS) == ["fashion-mnist", "mnist", "movielens-100k"]
    assert all("\n" not in text for text in datasets.DATASETS.values())


# --- (e) downloading happens only when asked -----------------------------------------------


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist", "movielens-100k"])
def test_no_download_without_opt_in(offline: Path, name: str) -> None:
    # `offline` makes urlopen raise AssertionError, which DatasetUnavailable would not catch.
    with pytest.raises(DatasetUnavailable):
        load(name)
    assert not offline.exists() or not any(p.is_file() for p in offline.rglob("*"))


def test_download_when_allowed_fetches_into_cache(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLARENA_ALLOW_DOWNLOAD", "1")
    served: dict[str, bytes] = {}
    for prefix, n in (("train", 3), ("t10k", 2)):
        images = np.full((n, 28, 28), 255, np.uint8)
        raw_images = bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28) + images.tobytes()
        raw_labels = bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(range(n))
        served[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(raw_images)
        served[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(raw_labels)
    calls: list[tuple[str, float]] = []

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        calls.append((url, timeout))
        return io.BytesIO(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    data = load("mnist")
    assert data.train_inputs.shape == (3, 784) and data.test_labels.tolist() == [0, 1]
    assert data.source == str(offline / "mnist")
    assert len(calls) == 4 and all(t == 30 for _, t in calls)
    assert all(url.startswith("https://ossci-datasets.s3.amazonaws.com/mnist/") for url, _ in calls)
    load("mnist")  # now cached: no second download
    assert len(calls) == 4


def test_failed_download_says_it_was_tried(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLARENA_ALLOW_DOWNLOAD", "1")

    def unreachable(url: str, timeout: float) -> Any:
        raise OSError("Name or service\nnot known")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DatasetUnavailable) as caught:
        load("movielens-100k")
    message = str(caught.value)
    assert "\n" not in message
    assert "downloading was tried" in message and "files.grouplens.org" in message
    assert "`bash scripts/install-data.sh`" in message
    assert not (offline / "ml-100k.zip").exists()


# --- checksum --------------------------------------------------------------------------------


def test_checksum_is_short_stable_and_sensitive() -> None:
    def make(scale: float, rows: int = 4) -> Dataset:
        x = np.linspace(0, scale, rows * 6, dtype=np.float32).reshape(rows, 6)
        y = np.arange(rows, dtype=np.int64)
        return Dataset("d", x, y, x[:2], y[:2], source="here")

    first = checksum(make(1.0))
    assert len(first) == 16 and int(first, 16) >= 0
    assert checksum(make(1.0)) == first
    assert checksum(make(2.0)) != first
    reshaped = make(1.0)
    same_bytes = Dataset(
        "d",
        reshaped.train_inputs.reshape(6, 4),
        reshaped.train_labels,
        reshaped.test_inputs,
        reshaped.test_labels,
        source="there",
    )
    assert checksum(same_bytes) != first
