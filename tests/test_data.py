"""Datasets: built-ins, CSV/Parquet tables and their refusals, IDX files, MNIST and its download.

Nothing here touches the network: downloads are tested with file:// URLs into tmp_path.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import sys

import numpy as np
import pandas as pd
import pytest

from handgrad.data import (BUILTIN_DATASETS, Dataset, load_builtin, load_dataset, load_table,
                           make_three_class)
from handgrad.errors import InputError
from handgrad.data.mnist import (MNIST_FILES, MNIST_SHA256, download_mnist, fetch_verified, load_mnist,
                            read_idx, write_idx)


# ---------------------------------------------------------------- built-ins

@pytest.mark.parametrize("name, shape, n_classes", [
    ("digits", (1797, 64), 10), ("iris", (150, 4), 3), ("wine", (178, 13), 3),
    ("breast_cancer", (569, 30), 2), ("three_class", (600, 3), 3)])
def test_builtin_shapes_and_classes(name, shape, n_classes):
    ds = load_builtin(name)
    assert ds.X.shape == shape and ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.y.shape == (shape[0],) and ds.y.dtype == np.int64
    assert len(np.unique(ds.y)) == n_classes
    assert len(ds.feature_names) == shape[1] and len(set(ds.feature_names)) == shape[1]
    assert len(ds.class_names) == n_classes and ds.name == name


def test_builtin_names_are_meaningful():
    assert load_builtin("iris").class_names == ["setosa", "versicolor", "virginica"]
    assert load_builtin("digits").feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    three = load_builtin("three_class")
    X, y = make_three_class(600, seed=0)
    assert three.feature_names == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(three.X, X)
    np.testing.assert_array_equal(three.y, y)


def test_builtin_unknown_name_lists_choices():
    with pytest.raises(InputError, match="unknown built-in dataset 'iriss'") as info:
        load_builtin("iriss")
    assert all(name in str(info.value) for name in BUILTIN_DATASETS)


def test_builtin_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(InputError, match=r"pip install '\.\[cli\]' in handgrad's folder"):
        load_builtin("iris")
    assert load_builtin("three_class").X.shape == (600, 3)  # needs no scikit-learn


# ---------------------------------------------------------------- tables: formats

def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_string_labels(tmp_path):
    path = write(tmp_path, "flowers.csv", "a,b,species\n1,2.5,setosa\n3,4,virginica\n5,6,setosa\n")
    ds = load_table(path, target="species")
    np.testing.assert_array_equal(ds.X, [[1, 2.5], [3, 4], [5, 6]])
    assert ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.y.dtype.kind == "U" and ds.y.tolist() == ["setosa", "virginica", "setosa"]
    assert ds.feature_names == ["a", "b"] and ds.target_name == "species" and ds.name == "flowers.csv"


def test_csv_with_integer_labels_and_target_in_the_middle(tmp_path):
    path = write(tmp_path, "d.csv", "a,label,b\n1,0,2\n3,7,4\n")
    ds = load_table(path, target="label")
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [0, 7]
    assert ds.feature_names == ["a", "b"]
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])


def test_whole_float_labels_become_int(tmp_path):
    ds = load_table(write(tmp_path, "d.csv", "a,y\n1,1.0\n2,2.0\n"), target="y")
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [1, 2]


def test_no_target_means_all_columns_are_features(tmp_path):
    ds = load_table(write(tmp_path, "d.csv", "a,b,c\n1,2,3\n"))
    assert ds.y is None and ds.feature_names == ["a", "b", "c"] and ds.X.shape == (1, 3)


def test_tsv_and_txt(tmp_path):
    tsv = load_table(write(tmp_path, "d.tsv", "a\tb\ty\n1\t2\tx\n"), target="y")
    assert tsv.feature_names == ["a", "b"] and tsv.X.tolist() == [[1, 2]] and tsv.y.tolist() == ["x"]
    txt = load_table(write(tmp_path, "d.txt", "a,y\n1.5,3\n"), target="y")
    assert txt.X.tolist() == [[1.5]] and txt.y.tolist() == [3]


def test_gzipped_csv(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"a,b,y\n1,2,u\n3,4,v\n"))
    ds = load_table(path, target="y")
    assert ds.X.tolist() == [[1, 2], [3, 4]] and ds.y.tolist() == ["u", "v"]


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_with_bool_nullable_and_text_columns(tmp_path, suffix):
    path = tmp_path / f"d{suffix}"
    pd.DataFrame({"flag": [True, False, True], "n": pd.array([1, 2, 3], dtype="Int64"),
                  "text_number": ["1.5", "2", "-3"], "label": ["a", "b", "a"]}).to_parquet(path)
    ds = load_table(path, target="label")
    assert ds.feature_names == ["flag", "n", "text_number"]
    np.testing.assert_array_equal(ds.X, [[1, 1, 1.5], [0, 2, 2], [1, 3, -3]])
    assert ds.y.tolist() == ["a", "b", "a"]


def test_bool_csv_feature_becomes_0_1(tmp_path):
    ds = load_table(write(tmp_path, "d.csv", "flag,y\nTrue,1\nFalse,2\n"), target="y")
    assert ds.X[:, 0].tolist() == [1.0, 0.0]


def test_features_select_columns_in_the_given_order(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c,extra,y\n1,2,3,text,0\n4,5,6,more,1\n")
    ds = load_table(path, target="y", features=["c", "a"])
    assert ds.feature_names == ["c", "a"]
    np.testing.assert_array_equal(ds.X, [[3, 1], [6, 4]])  # 'extra' (not numeric) is ignored


def test_features_without_target(tmp_path):
    ds = load_table(write(tmp_path, "d.csv", "a,b\n1,2\n"), features=["b"])
    assert ds.y is None and ds.X.tolist() == [[2]]


# ---------------------------------------------------------------- tables: refusals

def refusal(path, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        load_table(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file_and_directory(tmp_path):
    assert "file not found" in refusal(tmp_path / "nope.csv") and "nope.csv" in refusal(tmp_path / "nope.csv")
    assert "is not a file" in refusal(tmp_path)


def test_unknown_extension(tmp_path):
    message = refusal(write(tmp_path, "d.xlsx", "a\n1\n"))
    assert "d.xlsx" in message and ".parquet" in message


def test_empty_file_and_header_only(tmp_path):
    assert "has no data rows" in refusal(write(tmp_path, "empty.csv", ""))
    assert "has no data rows" in refusal(write(tmp_path, "blank.csv", "\n\n"))
    assert "has no data rows" in refusal(write(tmp_path, "header.csv", "a,b,y\n"), target="y")
    empty_gz = tmp_path / "e.csv.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    assert "has no data rows" in refusal(empty_gz)


def test_not_a_table(tmp_path):
    binary = tmp_path / "junk.parquet"
    binary.write_bytes(b"this is not parquet at all")
    message = refusal(binary)
    assert "cannot read" in message and "junk.parquet" in message and "Parquet" in message
    fake_gz = tmp_path / "fake.csv.gz"
    fake_gz.write_bytes(b"a,b\n1,2\n")  # named .gz but not gzipped
    assert "cannot read" in refusal(fake_gz)


def test_ragged_rows(tmp_path):
    assert "cannot read" in refusal(write(tmp_path, "r.csv", "a,b\n1,2\n3,4,5\n"))
    # every row longer than the header: pandas would silently use a column as the index
    assert "cannot read" in refusal(write(tmp_path, "r2.csv", "a,b\n1,2,3\n4,5,6\n"))


def test_missing_target_names_it_and_lists_columns(tmp_path):
    message = refusal(write(tmp_path, "d.csv", "alpha,beta\n1,2\n"), target="gamma")
    assert "'gamma'" in message and "'alpha', 'beta'" in message


def test_long_column_list_is_truncated(tmp_path):
    header = ",".join(f"c{i}" for i in range(40))
    message = refusal(write(tmp_path, "wide.csv", header + "\n" + ",".join(["1"] * 40) + "\n"), target="y")
    assert "'c0'" in message and "'c39'" not in message and "40 in all" in message


@pytest.mark.parametrize("cell", ["", "  "])
def test_missing_label_names_the_row(tmp_path, cell):
    message = refusal(write(tmp_path, "d.csv", f"a,y\n1,cat\n2,dog\n3,{cell}\n4,cat\n"), target="y")
    assert "'y'" in message and "row 3" in message


def test_missing_integer_label_names_the_row(tmp_path):
    assert "row 2" in refusal(write(tmp_path, "d.csv", "a,y\n1,1\n2,\n3,2\n"), target="y")


def test_fractional_labels_are_refused(tmp_path):
    message = refusal(write(tmp_path, "d.csv", "a,y\n1,1\n2,2.5\n"), target="y")
    assert "non-integer numbers" in message and "class labels" in message and "row 2" in message


def test_non_numeric_feature_names_column_value_and_row(tmp_path):
    message = refusal(write(tmp_path, "d.csv", "size,color,y\n1,2,a\n2,3,b\n3,red,a\n"), target="y")
    assert "'color'" in message and "'red'" in message and "row 3" in message
    assert "encode it as numbers or drop it" in message


def test_nan_feature_names_row_and_column(tmp_path):
    message = refusal(write(tmp_path, "d.csv", "a,b,y\n1,2,x\n3,4,x\n5,,x\n"), target="y")
    assert "'b'" in message and "row 3" in message and "impute" in message


def test_inf_feature_names_row_and_column(tmp_path):
    message = refusal(write(tmp_path, "d.csv", "a,b\n1,2\n-inf,4\n"))
    assert "'a'" in message and "row 2" in message and "inf" in message


def test_duplicate_column_names(tmp_path):
    message = refusal(write(tmp_path, "d.csv", "a,b,a\n1,2,3\n"))
    assert "duplicate column names" in message and "'a'" in message
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(path)  # parquet gets its check after reading
    assert load_table(path).feature_names == ["a", "b"]


def test_missing_features_are_named(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,y\n1,2,0\n")
    message = refusal(path, target="y", features=["a", "z", "w"])
    assert "'z'" in message and "'w'" in message and "lacks feature column" in message
    assert "both the target and a feature" in refusal(path, target="y", features=["a", "y"])
    assert "more than once" in refusal(path, features=["a", "a"])


def test_only_the_target_column(tmp_path):
    assert "no feature columns" in refusal(write(tmp_path, "d.csv", "y\n1\n2\n"), target="y")


def test_missing_pandas_or_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert "pip install '.[parquet]' in handgrad's folder" in refusal(path)
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert "pip install '.[cli]' in handgrad's folder" in refusal(write(tmp_path, "d.csv", "a\n1\n"))


def test_dataset_checks_its_parts():
    with pytest.raises(InputError, match="y has shape"):
        Dataset(np.zeros((3, 2)), np.zeros(2), ["a", "b"], "t")
    with pytest.raises(InputError, match="feature names"):
        Dataset(np.zeros((3, 2)), None, ["a"], "t")
    with pytest.raises(InputError, match="test_size"):
        Dataset(np.zeros((3, 2)), None, ["a", "b"], "t", test_size=4)


# ---------------------------------------------------------------- load_dataset

def test_load_dataset_dispatches(tmp_path, monkeypatch):
    assert load_dataset("iris").X.shape == (150, 4)
    path = write(tmp_path, "d.csv", "a,b,y\n1,2,u\n")
    assert load_dataset(str(path), "y").y.tolist() == ["u"]
    assert load_dataset(path, "y", features=["b"]).X.tolist() == [[2]]
    monkeypatch.chdir(tmp_path)
    assert load_dataset("d.csv", "y").feature_names == ["a", "b"]  # a bare name with a table ending
    assert "file not found" in str(pytest.raises(InputError, load_dataset, "other.csv").value)


def test_load_dataset_refusals():
    message = str(pytest.raises(InputError, load_dataset, "irs").value)
    assert "unknown dataset 'irs'" in message and "mnist" in message and "iris" in message
    assert "table files only" in str(pytest.raises(InputError, load_dataset, "iris", "species").value)


def test_load_dataset_features_on_a_builtin():
    ds = load_dataset("iris", features=["petal width (cm)", "sepal length (cm)"])
    full = load_builtin("iris")
    np.testing.assert_array_equal(ds.X, full.X[:, [3, 0]])
    with pytest.raises(InputError, match="lacks feature"):
        load_dataset("iris", features=["x0"])


# ---------------------------------------------------------------- IDX

@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((4, 3, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_idx_reads_hand_made_big_endian_bytes(tmp_path):
    # written independently of write_idx: int16 (code 0x0B), shape (2, 3), big-endian values
    data = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 3) + struct.pack(">6h", 1, -2, 300, 4, 5, -32768)
    (tmp_path / "h.idx").write_bytes(data)
    np.testing.assert_array_equal(read_idx(tmp_path / "h.idx"), [[1, -2, 300], [4, 5, -32768]])
    (tmp_path / "h.gz").write_bytes(gzip.compress(data))  # gzip recognised by its magic
    np.testing.assert_array_equal(read_idx(tmp_path / "h.gz"), [[1, -2, 300], [4, 5, -32768]])


def idx_refusal(path) -> str:
    with pytest.raises(InputError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_idx_truncated_trailing_and_bad_header(tmp_path):
    good = write_idx(tmp_path / "g.idx", np.arange(12, dtype=np.uint8).reshape(3, 4)).read_bytes()
    cases = {"trunc.idx": (good[:-1], "truncated"), "trail.idx": (good + b"\0", "trailing"),
             "magic.idx": (b"\x01" + good[1:], "not an IDX file"),
             "code.idx": (good[:2] + b"\x07" + good[3:], "unknown IDX data type"),
             "hdr.idx": (good[:6], "header is truncated"), "empty.idx": (b"", "not an IDX file")}
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert expected in idx_refusal(tmp_path / name), name


def test_idx_broken_gzip_and_missing_file(tmp_path):
    compressed = gzip.compress(write_idx(tmp_path / "g.idx", np.zeros(100, np.uint8)).read_bytes())
    (tmp_path / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    assert "gzip" in idx_refusal(tmp_path / "cut.gz")
    assert "cannot read" in idx_refusal(tmp_path / "absent.idx")


# ---------------------------------------------------------------- MNIST from local files

def write_mnist(directory, split, n, seed=0, gz=True, n_labels=None):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_labels or n, dtype=np.uint8)
    image_name, label_name = MNIST_FILES[split]
    ending = ".gz" if gz else ""
    directory.mkdir(parents=True, exist_ok=True)
    write_idx(directory / f"{image_name}{ending}", images)
    write_idx(directory / f"{label_name}{ending}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_small_files(tmp_path, gz):
    images, labels = write_mnist(tmp_path, "train", 5, gz=gz)
    ds = load_mnist(tmp_path, "train")
    assert ds.X.shape == (5, 784) and ds.X.dtype == np.float64 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.X, images.reshape(5, 784))  # raw 0..255, not scaled
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.feature_names[0] == "pixel_0_0" and ds.feature_names[-1] == "pixel_27_27"
    assert ds.test_size is None


def test_load_mnist_all_and_load_dataset(tmp_path):
    train_images, _ = write_mnist(tmp_path, "train", 5, seed=1)
    test_images, test_labels = write_mnist(tmp_path, "test", 3, seed=2)
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.X.shape == (8, 784) and ds.test_size == 3 and ds.name == "mnist"
    np.testing.assert_array_equal(ds.X[-3:], test_images.reshape(3, 784))
    np.testing.assert_array_equal(ds.y[-3:], test_labels)
    assert load_mnist(tmp_path, "test").X.shape == (3, 784)


def test_load_mnist_refusals(tmp_path):
    with pytest.raises(InputError, match="train-images-idx3-ubyte.*not found.*download=True"):
        load_mnist(tmp_path, "train")
    write_mnist(tmp_path, "train", 5, n_labels=4)
    with pytest.raises(InputError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path, "train")
    with pytest.raises(InputError, match="unknown MNIST split"):
        load_mnist(tmp_path, "validation")


# ---------------------------------------------------------------- MNIST download (file:// only)

@pytest.fixture
def mirror(tmp_path):
    """A local 'mirror' holding gzipped MNIST-like files, and the SHA-256 table for them."""
    source = tmp_path / "mirror"
    images, labels = write_mnist(source, "train", 5, seed=3)
    write_mnist(source, "test", 2, seed=4)
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in source.iterdir()}
    return source, digests, images, labels


def test_download_verifies_and_caches(tmp_path, mirror):
    source, digests, images, labels = mirror
    cache = tmp_path / "cache"
    urls = ["file:///nonexistent-handgrad-mirror/", source.as_uri() + "/"]  # first mirror fails
    paths = download_mnist(cache, mirrors=urls, digests=digests)
    assert sorted(p.name for p in paths) == sorted(digests)
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == digests[p.name] for p in paths)
    for path in source.iterdir():  # a second load must not need the mirror any more
        path.unlink()
    assert download_mnist(cache, mirrors=urls, digests=digests) == paths
    ds = load_mnist(cache, "train", download=True, mirrors=urls, digests=digests)
    np.testing.assert_array_equal(ds.X, images.reshape(5, 784))
    np.testing.assert_array_equal(ds.y, labels)
    assert sorted(p.name for p in cache.iterdir()) == sorted(digests)  # no temp files left


def test_load_mnist_downloads_into_cache_dir(tmp_path, mirror):
    source, digests, images, _ = mirror
    ds = load_mnist(tmp_path / "empty", "train", download=True, cache_dir=tmp_path / "cache",
                    mirrors=[source.as_uri()], digests=digests)
    np.testing.assert_array_equal(ds.X, images.reshape(5, 784))
    assert (tmp_path / "cache" / "train-images-idx3-ubyte.gz").is_file()
    assert not (tmp_path / "empty").exists() or not any((tmp_path / "empty").iterdir())


def test_download_with_wrong_digest_leaves_nothing_behind(tmp_path, mirror):
    source, digests, _, _ = mirror
    wrong = dict(digests, **{"train-images-idx3-ubyte.gz": "0" * 64})
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="SHA-256 mismatch") as info:
        fetch_verified("train-images-idx3-ubyte.gz", cache, mirrors=[source.as_uri()], digests=wrong)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert list(cache.iterdir()) == []  # neither the file nor its .part temp file
    with pytest.raises(InputError, match="SHA-256 mismatch"):
        load_mnist(cache, "train", download=True, mirrors=[source.as_uri()], digests=wrong)
    assert list(cache.iterdir()) == []


def test_download_refuses_unknown_digest_and_dead_mirrors(tmp_path, mirror):
    source, digests, _, _ = mirror
    with pytest.raises(InputError, match="no SHA-256 digest"):
        fetch_verified("train-images-idx3-ubyte.gz", tmp_path / "c", mirrors=[source.as_uri()], digests={})
    with pytest.raises(InputError, match="could not download.*download failed"):
        fetch_verified("train-images-idx3-ubyte.gz", tmp_path / "c",
                       mirrors=[(tmp_path / "nowhere").as_uri()], digests=digests)
    assert list((tmp_path / "c").iterdir()) == []


def test_recorded_digests_cover_the_four_files():
    expected = {f"{stem}.gz" for pair in MNIST_FILES.values() for stem in pair}
    assert set(MNIST_SHA256) == expected
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in MNIST_SHA256.values())


# ----- how messages show values, rows and lists (handgrad.errors: one form everywhere) -----

def test_values_are_plain_numbers_rows_count_from_1_and_lists_stay_short():
    from handgrad.errors import cell_of, listed, row_of, shown

    assert [shown(v) for v in (np.float64(9e300), np.float32(0.5), np.int64(7), float("nan"), "abc")] == \
        ["9e+300", "0.5", "7", "nan", "'abc'"]
    assert shown("x" * 500).endswith("...") and len(shown("x" * 500)) == 60
    assert row_of(0) == "row 1" and cell_of((2, 0), 10, ["price"]) == "row 13, column 'price'"
    assert cell_of((0, 3)) == "row 1, column 4"
    names = [f"c{i}" for i in range(10_000)]
    text = listed(names)
    assert text.endswith("… (10000 in all)") and text.count(",") == 10 and len(text) < 120


def test_check_finite_names_the_value_row_and_column():
    from handgrad.validation import check_finite

    X = np.zeros((5, 3))
    X[3, 2] = -np.inf
    with pytest.raises(InputError, match=r"X holds -inf in row 4, column 3;"):
        check_finite(X)
    with pytest.raises(InputError, match=r"row 104, column 'c'"):
        check_finite(X, row_offset=100, column_names=["a", "b", "c"])


@pytest.mark.parametrize("content, what", [
    (lambda: gzip.compress(b"a,y\n1,x\n"), "gzip-compressed data"),
    (lambda: b"PAR1" + b"\0" * 20, "a Parquet file"),
    (lambda: b"PK\x03\x04" + b"\0" * 20, "zip archive"),
])
def test_compressed_data_or_another_format_named_as_a_csv_is_refused_as_what_it_is(tmp_path, content, what):
    path = tmp_path / "t.csv"
    path.write_bytes(content())
    with pytest.raises(InputError, match=what) as info:
        load_table(path, "y")
    assert "encoding" not in str(info.value) and "UTF-8" not in str(info.value)
    if what.startswith("gzip"):  # the fix it names works
        assert "name it t.csv.gz" in str(info.value)
        path.rename(tmp_path / "t.csv.gz")
        assert load_table(tmp_path / "t.csv.gz", "y").y.tolist() == ["x"]
