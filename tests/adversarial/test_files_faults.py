"""Cases on files and faults: FIFOs, devices, directories and links where a file is expected,
outputs that would overwrite an input or cannot be written (refused before training), ``-``
as standard output, a reader that went away, stale temporary files, --resume directories."""

import os
import subprocess
import sys

import pytest

from handgrad import atomic

from .harness import Case, accept, checks, in_err, refuse, run_case

# a small table: 40 rows, a numeric and a text feature, labels a/b
TABLE = "x,colour,y\n" + "".join(f"{i % 7 + 0.5 * (i % 3)},{'red' if i % 2 else 'blue'},{'a' if i % 2 else 'b'}\n"
                                 for i in range(40))
TRAIN = "train --data {t_csv} --target y --epochs 1 --quiet"
FAST = TRAIN + " --no-plot"


def _dead_pid() -> int:
    """The id of a process that has ended (its temporary files are stale)."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


DEAD = _dead_pid()
STALE = f".model.safetensors.abc.hg{DEAD}-{atomic._HOST}.tmp"
LIVE = f".model.safetensors.abc.hg{os.getpid()}-{atomic._HOST}.tmp"


def fifo(path):
    os.mkfifo(path)


def directory(path):
    path.mkdir()


def link_to(target):
    """A symbolic link to ``target`` (a name next to the link, or an absolute path)."""
    return lambda path: path.symlink_to(target)


def t_csv_and(*more):
    return {"t.csv": TABLE, **dict(more)}


def model_at(rel):
    """check(): a loadable model file at tmp/rel."""
    def check(out, err, tmp):
        from handgrad.model.files import load_model
        load_model(tmp / rel)
    return check


def is_link(rel, target):
    def check(out, err, tmp):
        assert (tmp / rel).is_symlink() and os.readlink(tmp / rel) == target
    return check


def absent(*rels):
    def check(out, err, tmp):
        for rel in rels:
            assert not (tmp / rel).exists(), rel
    return check


def present(*rels):
    def check(out, err, tmp):
        for rel in rels:
            assert (tmp / rel).exists(), rel
    return check


def csv_rows(n, header="prediction"):
    def check(out, err, tmp):
        lines = out.splitlines()
        assert lines[0].split(",")[0] == header and len(lines) == n + 1, lines[:3]
    return check


def file_rows(rel, n):
    def check(out, err, tmp):
        lines = (tmp / rel).read_text().splitlines()
        assert lines[0].startswith("prediction") and len(lines) == n + 1
    return check


def quiet_end(out, err, tmp):
    assert err == "", err


def closed(id, argv, status=1, check=quiet_end, **kw):
    """A process whose stdout reader is gone: ends quietly (no message) with ``status``."""
    return Case(id, argv=argv, ok=True, status=status, check=check, process=True, stdout_closed=True, **kw)


CASES = [
    # ----- a FIFO, device, directory or link where a model file is expected: refused at once
    refuse("info-model-fifo", "info {m_safetensors}", "FIFO (named pipe), not a model file",
           files={"m.safetensors": fifo}, timeout=30),
    refuse("evaluate-model-fifo", "evaluate {m_safetensors} --data {t_csv}", "FIFO",
           files={"m.safetensors": fifo, "t.csv": TABLE}),
    refuse("predict-model-fifo", "predict {m_safetensors} --data {t_csv} --out {tmp}/p.csv", "FIFO",
           files={"m.safetensors": fifo, "t.csv": TABLE}),
    refuse("info-model-link-to-fifo", "info {l_safetensors}", "FIFO",
           files={"m.safetensors": fifo, "l.safetensors": link_to("m.safetensors")}),
    refuse("info-model-directory", "info {tmp}", "it is a directory, not a model file"),
    refuse("evaluate-model-directory", "evaluate {tmp} --dataset iris", "directory"),
    refuse("info-model-dev-null", "info /dev/null", "a character device, not a model file"),
    refuse("info-model-dev-zero", "info /dev/zero", "character device"),
    refuse("predict-model-dev-zero", "predict /dev/zero --dataset iris --out {tmp}/p.csv", "character device"),
    refuse("info-model-dangling-link", "info {l_safetensors}", "no such file",
           files={"l.safetensors": link_to("gone.safetensors")}),
    refuse("info-model-link-loop", "info {a_safetensors}", "symbolic links",
           files={"a.safetensors": link_to("b.safetensors"), "b.safetensors": link_to("a.safetensors")}),
    refuse("info-model-stdin-pipe", "info /dev/stdin", "not a model file", process=True, stdin=b"x" * 100),

    # ----- a FIFO, device or directory where a table is expected
    refuse("train-data-fifo", FAST + " --out-dir {tmp}/o", "is not a file", files={"t.csv": fifo}),
    refuse("train-data-directory", FAST + " --out-dir {tmp}/o", "is not a file", files={"t.csv": directory}),
    refuse("train-data-link-to-fifo", "train --data {l_csv} --target y --no-plot --out-dir {tmp}/o",
           "is not a file", files={"f.csv": fifo, "l.csv": link_to("f.csv")}),
    refuse("train-data-dev-null", "train --data /dev/null --target y --out-dir {tmp}/o", "is not a file"),
    refuse("evaluate-data-fifo", "evaluate {model} --data {f_csv}", "is not a file", files={"f.csv": fifo}),
    refuse("predict-data-fifo", "predict {model} --data {f_csv} --out {tmp}/p.csv", "is not a file",
           files={"f.csv": fifo}),
    refuse("predict-data-dev-zero", "predict {model} --data /dev/zero --out {tmp}/p.csv", "is not a file"),
    refuse("train-test-fifo", FAST + " --test {u_csv} --out-dir {tmp}/o",
           "--test", "a FIFO (named pipe), not a table file", files=t_csv_and(("u.csv", fifo))),
    refuse("train-test-directory", FAST + " --test {tmp} --out-dir {tmp}/o", "--test", "a directory",
           files=t_csv_and()),
    refuse("train-test-missing", FAST + " --test {tmp}/nope.csv --out-dir {tmp}/o", "--test", "file not found",
           files=t_csv_and()),
    accept("train-data-through-link", "train --data {l_csv} --target y --epochs 1 --quiet --no-plot "
           "--out-dir {tmp}/o", model_at("o/model.safetensors"), files=t_csv_and(("l.csv", link_to("t.csv")))),

    # ----- train: an output that is an input, is not a file, or cannot be written — before training
    refuse("train-model-is-the-data", FAST + " --model {t_csv}", "--model", "is the input file",
           files=t_csv_and()),
    refuse("train-plot-is-the-data", TRAIN + " --plot {t_csv} --out-dir {tmp}/o", "--plot", "is the input file",
           files=t_csv_and()),
    refuse("train-model-link-to-the-data", FAST + " --model {l_safetensors}", "is the input file",
           files=t_csv_and(("l.safetensors", link_to("t.csv")))),
    refuse("train-model-is-the-test-file", FAST + " --test {u_csv} --model {u_csv}", "is the input file",
           files=t_csv_and(("u.csv", TABLE))),
    refuse("train-model-fifo", FAST + " --model {m_safetensors}", "--model", "FIFO",
           files=t_csv_and(("m.safetensors", fifo))),
    refuse("train-model-directory", FAST + " --model {tmp}", "--model", "is a directory", files=t_csv_and()),
    refuse("train-model-dev-null", FAST + " --model /dev/null", "character device, not a regular file",
           files=t_csv_and()),
    refuse("train-model-dev-stdout", FAST + " --model /dev/stdout", "not a regular file", process=True,
           files=t_csv_and()),
    refuse("train-plot-fifo", TRAIN + " --plot {p_png} --out-dir {tmp}/o", "--plot", "FIFO",
           files=t_csv_and(("p.png", fifo))),
    refuse("train-confusion-png-is-a-directory", TRAIN + " --out-dir {o}", "--out-dir", "is a directory",
           files=t_csv_and(("o", lambda p: (p.mkdir(), (p / "confusion_matrix.png").mkdir())))),
    refuse("train-out-dir-is-a-file", FAST + " --out-dir {f_txt}", "--out-dir", "is a file, not a directory",
           files=t_csv_and(("f.txt", "x"))),
    refuse("train-out-dir-under-a-file", FAST + " --out-dir {f_txt}/sub", "--out-dir", "is not a directory",
           files=t_csv_and(("f.txt", "x"))),
    refuse("train-out-dir-unwritable", FAST + " --out-dir /sys/handgrad-out", "--out-dir", "cannot write in /sys",
           files=t_csv_and()),
    refuse("train-out-dir-unwritable-nested", FAST + " --out-dir /sys/a/b/c", "cannot write in /sys",
           files=t_csv_and()),
    refuse("train-out-dir-in-proc", FAST + " --out-dir /proc/handgrad-out", "--out-dir", "cannot write in /proc",
           files=t_csv_and()),
    refuse("train-model-unwritable", FAST + " --model /sys/m.safetensors", "--model", "cannot write in /sys",
           files=t_csv_and()),
    refuse("train-plot-unwritable", TRAIN + " --plot /sys/c.png --out-dir {tmp}/o", "--plot", "cannot write in /sys",
           files=t_csv_and()),
    refuse("train-model-under-a-file", FAST + " --model {f_txt}/m.safetensors", "--model", "f.txt is a file, not a directory",
           files=t_csv_and(("f.txt", "x"))),
    refuse("train-out-dir-dash", FAST + " --out-dir -", "--out-dir -", "only predict --out", files=t_csv_and()),
    refuse("train-model-dash", FAST + " --model -", "--model -", "standard output", files=t_csv_and()),
    refuse("train-plot-dash", TRAIN + " --plot -", "--plot -", "standard output", files=t_csv_and()),
    refuse("train-model-same-as-plot", TRAIN + " --model {tmp}/x.png --plot {tmp}/x.png --out-dir {tmp}/o",
           "--plot", "also where the model file goes", files=t_csv_and()),
    refuse("train-model-same-as-confusion-png", TRAIN + " --model {tmp}/o/confusion_matrix.png --out-dir {tmp}/o",
           "also where the model file goes", files=t_csv_and()),

    # ----- train: accepted outputs
    accept("train-model-through-link", FAST + " --model {l_safetensors}",
           checks(is_link("l.safetensors", "real.safetensors"), model_at("real.safetensors")),
           files=t_csv_and(("real.safetensors", b"old"), ("l.safetensors", link_to("real.safetensors")))),
    accept("train-model-through-dangling-link", FAST + " --model {l_safetensors}",
           checks(is_link("l.safetensors", "new.safetensors"), model_at("new.safetensors")),
           files=t_csv_and(("l.safetensors", link_to("new.safetensors")))),
    accept("train-out-dir-created-nested", FAST + " --out-dir {tmp}/a/b/c", model_at("a/b/c/model.safetensors"),
           files=t_csv_and()),
    accept("train-out-dir-through-link", FAST + " --out-dir {l}", model_at("real/model.safetensors"),
           files=t_csv_and(("real", directory), ("l", link_to("real")))),
    accept("train-model-elsewhere-out-dir-unused", FAST + " --model {tmp}/m.safetensors --out-dir /sys/unused",
           model_at("m.safetensors"), files=t_csv_and()),
    accept("train-same-out-and-checkpoint-dir", FAST + " --out-dir {tmp}/o --checkpoint-dir {tmp}/o",
           checks(model_at("o/model.safetensors"), present("o/ckpt-000001-0000000.safetensors")),
           files=t_csv_and()),
    accept("train-stale-temp-in-out-dir-is-removed", FAST + " --out-dir {tmp}",
           checks(model_at("model.safetensors"), absent(STALE)), files=t_csv_and((STALE, b"partial"))),
    accept("train-temp-of-a-live-process-is-kept", FAST + " --out-dir {tmp}",
           checks(model_at("model.safetensors"), present(LIVE)), files=t_csv_and((LIVE, b"partial"))),
    accept("train-replaces-an-old-model", FAST + " --out-dir {tmp}", model_at("model.safetensors"),
           files=t_csv_and(("model.safetensors", b"not a model"))),

    # ----- checkpoint directories and --resume
    accept("train-resume-missing-checkpoint-dir-starts-afresh", FAST + " --out-dir {tmp}/o --checkpoint-dir "
           "{tmp}/new --resume", checks(in_err("note: the checkpoint directory", "does not exist yet"),
                                        present("new/ckpt-000001-0000000.safetensors")), files=t_csv_and()),
    refuse("train-resume-without-checkpoint-dir", FAST + " --out-dir {tmp}/o --resume",
           "--resume needs --checkpoint-dir", files=t_csv_and()),
    refuse("train-checkpoint-dir-is-a-file", FAST + " --out-dir {tmp}/o --checkpoint-dir {f_txt}",
           "--checkpoint-dir", "is a file, not a directory", files=t_csv_and(("f.txt", "x"))),
    refuse("train-resume-checkpoint-dir-is-a-file", FAST + " --out-dir {tmp}/o --checkpoint-dir {f_txt} --resume",
           "--checkpoint-dir", "is a file", files=t_csv_and(("f.txt", "x"))),
    refuse("train-checkpoint-dir-unwritable", FAST + " --out-dir {tmp}/o --checkpoint-dir /sys/ck",
           "--checkpoint-dir", "cannot write in /sys", files=t_csv_and()),
    refuse("train-checkpoint-dir-dash", FAST + " --out-dir {tmp}/o --checkpoint-dir -", "--checkpoint-dir -",
           files=t_csv_and()),
    accept("train-resume-empty-checkpoint-dir-starts-afresh", FAST + " --out-dir {tmp}/o --checkpoint-dir {ck} --resume",
           checks(in_err("note: no checkpoint in"), present("ck/ckpt-000001-0000000.safetensors")),
           files=t_csv_and(("ck", directory))),
    accept("train-fifo-named-like-a-checkpoint-is-not-read", FAST + " --epochs 2 --out-dir {tmp}/o "
           "--checkpoint-dir {ck} --resume", checks(in_err("note: no checkpoint in"),
                                                    present("ck/ckpt-000002-0000000.safetensors")),
           files=t_csv_and(("ck", lambda p: (p.mkdir(), os.mkfifo(p / "ckpt-000009-0000000.safetensors"))))),
    accept("train-stale-checkpoint-temp-is-removed", FAST + " --out-dir {tmp}/o --checkpoint-dir {ck}",
           absent("ck/.ckpt-000001-0000000.safetensors.x.tmp"),
           files=t_csv_and(("ck", lambda p: (p.mkdir(), (p / ".ckpt-000001-0000000.safetensors.x.tmp").write_bytes(b"x"))))),

    # ----- predict --out: - is standard output; links followed; inputs and non-files refused
    accept("predict-out-dash-is-stdout", "predict {model} --data {train_csv} --out -", csv_rows(120)),
    accept("predict-out-dash-with-proba", "predict {model} --data {train_csv} --out - --proba --quiet",
           checks(csv_rows(120), lambda out, err, tmp: out.splitlines()[0].startswith("prediction,proba_"))),
    accept("predict-out-dash-numeric-model", "predict {numeric_model} --dataset iris --out - --quiet", csv_rows(150)),
    accept("predict-out-dash-no-file-named-dash", "predict {model} --data {train_csv} --out - --quiet",
           absent("-")),
    accept("predict-out-through-link", "predict {model} --data {train_csv} --out {l_csv} --quiet",
           checks(is_link("l.csv", "real.csv"), file_rows("real.csv", 120)),
           files={"real.csv": "old", "l.csv": link_to("real.csv")}),
    accept("predict-out-through-dangling-link", "predict {model} --data {train_csv} --out {l_csv} --quiet",
           checks(is_link("l.csv", "new.csv"), file_rows("new.csv", 120)), files={"l.csv": link_to("new.csv")}),
    accept("predict-out-new-subdirectory", "predict {model} --data {train_csv} --out {tmp}/a/b/p.csv --quiet",
           file_rows("a/b/p.csv", 120)),
    accept("predict-removes-a-stale-temp", "predict {model} --data {train_csv} --out {tmp}/p.csv --quiet",
           checks(file_rows("p.csv", 120), absent(".p.csv.x.hg%d-%s.tmp" % (DEAD, atomic._HOST))),
           files={".p.csv.x.hg%d-%s.tmp" % (DEAD, atomic._HOST): b"partial"}),
    refuse("predict-out-is-the-data", "predict {model} --data {t_csv} --out {t_csv}", "--out", "is the input file",
           files={"t.csv": TABLE}),
    refuse("predict-out-link-to-the-data", "predict {model} --data {t_csv} --out {l_csv}", "is the input file",
           files={"t.csv": TABLE, "l.csv": link_to("t.csv")}),
    refuse("predict-out-is-the-model", "predict {model} --data {train_csv} --out {model}", "--out",
           "is the input file"),
    refuse("predict-out-fifo", "predict {model} --data {train_csv} --out {p_csv}", "--out", "FIFO",
           "use - for standard output", files={"p.csv": fifo}),
    refuse("predict-out-directory", "predict {model} --data {train_csv} --out {tmp}", "is a directory"),
    refuse("predict-out-dev-null", "predict {model} --data {train_csv} --out /dev/null", "character device",
           "use - for standard output"),
    refuse("predict-out-dev-stdout", "predict {model} --data {train_csv} --out /dev/stdout",
           "not a regular file", "use - for standard output", process=True),
    refuse("predict-out-unwritable", "predict {model} --data {train_csv} --out /sys/p.csv", "--out",
           "cannot write in /sys"),
    refuse("predict-out-under-a-file", "predict {model} --data {train_csv} --out {f_txt}/p.csv",
           "--out", "f.txt is a file, not a directory", files={"f.txt": "x"}),
    refuse("predict-out-checked-before-loading", "predict {tmp}/none.safetensors --dataset iris --out /sys/p.csv",
           "cannot write in /sys"),

    # ----- a reader of standard output that went away (| head -1): a quiet end, no "Broken pipe"
    closed("info-json-reader-gone", "info --json {model}"),
    closed("info-reader-gone", "info {model}"),
    closed("evaluate-json-reader-gone", "evaluate {model} --data {train_csv} --json"),
    closed("predict-stdout-reader-gone", "predict {model} --data {train_csv} --out - --quiet"),
    closed("gradcheck-reader-gone", "gradcheck --sizes 3 4 2"),
    closed("train-json-reader-gone-keeps-the-model", "train --data {train_csv} --target kind --epochs 1 "
           "--no-plot --json --out-dir {tmp}/o", check=checks(quiet_end, model_at("o/model.safetensors"))),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, shared_files, tmp_path, capsys):
    run_case(case, shared_files, tmp_path, capsys)


def test_the_cases_are_distinct():
    """No two cases are the same command on the same kinds of files with the same outcome."""
    def kinds(files):
        return tuple(sorted((n, v if isinstance(v, (str, bytes)) else getattr(v, "__qualname__", ""))
                            for n, v in files.items()))
    assert len({c.id for c in CASES}) == len(CASES) >= 60
    assert len({(c.argv, kinds(c.files), c.fragments, c.ok, c.stdout_closed) for c in CASES}) == len(CASES)


def test_an_unwritable_out_dir_is_refused_before_any_training(tmp_path, capsys, monkeypatch):
    """The trained model would otherwise be lost when the save fails at the end."""
    import handgrad.model.classifier as classifier
    from handgrad.cli.main import main

    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(classifier, "train_classifier", never)
    (tmp_path / "t.csv").write_text(TABLE)
    for option in (["--out-dir", "/sys/o"], ["--model", "/sys/m.safetensors", "--no-plot"],
                   ["--out-dir", str(tmp_path / "o"), "--checkpoint-dir", "/sys/ck"]):
        assert main(["train", "--data", str(tmp_path / "t.csv"), "--target", "y", *option]) == 2
        assert "cannot write in /sys" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # nothing created either


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_or_sighup_outside_training_ends_like_ctrl_c_and_removes_the_partial_file(
        tmp_path, capsys, monkeypatch, signame):
    """A stop signal during a save: the temporary file is removed, one line, exit 128 + signal."""
    import importlib
    import signal

    cli = importlib.import_module("handgrad.cli.main")  # the package's `main` is the function

    signum = getattr(signal, signame)

    def saving(args):
        with atomic.atomic_writer(tmp_path / "out.csv") as fh:
            fh.write(b"x" * 1000)
            os.kill(os.getpid(), signum)
        raise AssertionError("the signal did not stop the command")

    before = signal.getsignal(signum)
    monkeypatch.setattr(cli, "cmd_info", saving)
    assert cli.main(["info", "whatever"]) == 128 + signum
    assert capsys.readouterr().err.strip() == f"handgrad info: stopped by {signame}"
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signum) == before  # the handlers are put back
