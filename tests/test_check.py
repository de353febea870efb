"""`pitfalls check` itself: every check is run against a copy of the template broken in exactly
that way, and must fail, alone, with its exact message. Known failures (xfail) are strict.

Breakages that change only files or data run the quick checks (nothing trains). Breakages that
reach training run the quick checks and every training check that reads only trainings the broken
check reads too (:data:`READS`, CheckSpec.reads): those must pass, at no cost beyond the trainings
the broken check needs anyway. Until 2026-12 each ran the whole suite (all five groups of trainings:
starter, reference, the seeds batch, both anchors on 5 test secrets, the probe runs), ten whole
suites per run of this file; the whole suite now runs once, on the template
(test_template_passes_every_check_...), and the test secrets' measurement, kept per content without
[calibration] and [check] (runner/checks/measured.py), is shared by the tests that edit only those.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from pitfalls.checks.suite import CHECKS, planned, run_checks
from pitfalls.library.authoring import new_scaffold
from pitfalls.library.scaffold import _dataset, _load

TEMPLATE = Path(__file__).resolve().parent.parent / "scaffolds" / "_template"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "_template"
    shutil.copytree(TEMPLATE, root, ignore=shutil.ignore_patterns("__pycache__"))
    _load.cache_clear()
    _dataset.cache_clear()
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in {path}"
    path.write_text(text.replace(old, new))


def _only_failure(report, name: str, also: tuple[str, ...] = ()) -> str:
    """Assert ``name`` is the one failed check (others passed, or skipped because of it), besides
    the checks ``also`` names."""
    by_status = {r.name: r.status for r in report.results}
    failed = [n for n, s in by_status.items() if s in ("failed", "xpassed") and n not in also]
    assert failed == [name], f"expected only {name} to fail, got {failed}: " + "; ".join(
        f"{r.name}: {r.message}" for r in report.results if r.status in ("failed", "xpassed"))
    for r in report.results:
        assert r.status in ("passed", "failed") or r.message.startswith("needs "), (r.name, r.status, r.message)
    return next(r.message for r in report.results if r.name == name)


# -- breakages that need no training ----------------------------------------------------------
def _typo_field(root: Path) -> None:
    _edit(root / "scaffold.toml", 'metric = "balanced_accuracy"', 'metirc = "balanced_accuracy"')


def _typo_hook(root: Path) -> None:
    _edit(root / "scaffold.py", "def make_dataset(seed: int)", "def make_datset(seed: int)")


def _uncatalogued_bug(root: Path) -> None:
    for name in ("scaffold.toml", "mutants.toml", "probes.py"):
        text = (root / name).read_text().replace("inverted_class_weights", "weights_upside_down")
        (root / name).write_text(text)


def _uncatalogued_quirk(root: Path) -> None:
    _edit(root / "scaffold.toml", 'quirks = ["class_imbalance"]', 'quirks = ["class_imbalance", "gremlins"]')
    _edit(root / "scaffold.py", "quirks=[quirk]", 'quirks=[quirk, {"id": "gremlins"}]')


def _no_guide(root: Path) -> None:
    (root / "GUIDE.md").unlink()


def _stale_mutant(root: Path) -> None:
    _edit(root / "mutants.toml", """old = '    weights = "balanced"  # weight each class by the inverse of its frequency'""",
          """old = '    weights = "by_frequency"  # weight each class by the inverse of its frequency'""")


def _no_probes(root: Path) -> None:
    _edit(root / "probes.py", 'PROBES = {"inverted_class_weights": inverted_class_weights}', "PROBES = {}")


def _unseeded(root: Path) -> None:
    _edit(root / "scaffold.py", "return Dataset(train=train.reset_index(drop=True)",
          "return Dataset(train=train.sample(frac=1.0).reset_index(drop=True)")


def _train_rows_in_heldout(root: Path) -> None:
    _edit(root / "scaffold.py", "    return Dataset(", "    heldout = pd.concat([heldout.iloc[3:], train.iloc[:3]])"
          ".reset_index(drop=True)\n    return Dataset(")
    _edit(root / "scaffold.py", "import numpy as np\n", "import numpy as np\nimport pandas as pd\n")


def _data_in_workspace(root: Path) -> None:
    (root / "workspace" / "labels.csv").write_text("cultivar\n0\n1\n")


def _heldout_feature_from_labels(root: Path) -> None:
    _edit(root / "scaffold.py", "    return Dataset(", "    for part in (train, heldout):\n"
          "        part[\"recent_share\"] = part[\"cultivar\"].shift(1).rolling(3, min_periods=1).mean()"
          ".fillna(0.5).to_numpy()\n    return Dataset(")


def _quirk_not_planted(root: Path) -> None:
    _edit(root / "scaffold.py", "minority=1, keep=10, rng=rng)", "minority=1, keep=1000, rng=rng)")


def _drifted_mutant(root: Path) -> None:
    _edit(root / "mutants.toml", "zip(classes, counts)}  # balance the classes", "zip(classes, counts)}")


def _template_brief_left(root: Path) -> Path:
    """What `pitfalls new` gives before the author writes anything (a scaffold of its own name)."""
    return new_scaffold(name="churn_signals", parent=root.parent)


def _bug_comment(root: Path) -> None:
    for path in (root / "workspace" / "train.py", root / "mutants.toml"):
        _edit(path, "# balance the classes", "# weights per class (wrong way round on purpose)")


def _solution_copied(root: Path) -> None:
    shutil.copy(root / "solution" / "train.py", root / "workspace" / "train_fixed.py")


def _probe_key_typo(root: Path) -> None:
    _edit(root / "probes.py", 'PROBES = {"inverted_class_weights": inverted_class_weights}',
          'PROBES = {"inverted_class_weights": inverted_class_weights, "inverted_class_weight": inverted_class_weights}')


QUICK = {
    "manifest_valid": _typo_field,
    "hooks_valid": _typo_hook,
    "bug_ids_known": _uncatalogued_bug,
    "quirk_ids_known": _uncatalogued_quirk,
    "files_present": _no_guide,
    "mutants_apply": _stale_mutant,
    "probes_declared": _no_probes,
    "dataset_deterministic": _unseeded,
    "heldout_clean": _train_rows_in_heldout,
    "heldout_labels_hidden": _heldout_feature_from_labels,
    "workspace_no_secrets": _data_in_workspace,
    "quirk_detected:class_imbalance": _quirk_not_planted,
    "mutants_reproduce_starter": _drifted_mutant,
    "template_text_left": _template_brief_left,
    "no_giveaway_comments": _bug_comment,
    "solution_not_in_workspace": _solution_copied,
    "catalog_keys_known": _probe_key_typo,
}

QUICK_MESSAGES = {
    "manifest_valid": r"^{root}/scaffold\.toml: `task\.metirc` must be one of the keys of \[task\]: "
                      r"\[.*'metric'.*\]\. Got 'metirc' instead\. Did you mean 'metric'\? Check the "
                      r"spelling against scaffolds/STANDARD\.md\.$",
    "hooks_valid": r"^{root}/scaffold\.py: `make_datset` must be one of the hooks \['make_dataset'\]\. Got "
                   r"'make_datset' instead\. Did you mean 'make_dataset'\? Helper functions must start "
                   r"with an underscore\.$",
    "bug_ids_known": r"^Bug ids must be catalogued kinds \(bugs/catalog/\*\.toml\)\. Got unknown ids "
                     r"\['weights_upside_down'\] instead\. Add a catalog entry, or fix the spelling\.$",
    "quirk_ids_known": r"^Quirk ids must be catalogued kinds \(datasets/catalog/\*\.toml\) with a registered "
                       r"detector \(pitfalls\.datasets\.register\)\. Got unknown ids \['gremlins'\] instead\. "
                       r"Add the kind, or fix the spelling\.$",
    "files_present": r"^A scaffold must have \['workspace/train\.py', 'workspace/model\.py', 'GUIDE\.md', "
                     r"'solution', 'mutants\.toml'\]\. Got no \['GUIDE\.md'\] instead\. Copy the missing "
                     r"parts from scaffolds/_template/ \(scaffolds/STANDARD\.md says what each holds\)\.$",
    "mutants_apply": r"^{root}/mutants\.toml: `inverted_class_weights\.old` must be text found exactly once in "
                     r"solution/train\.py\. Got 0 occurrences instead\.",
    "probes_declared": r"^probes\.py must define PROBES with an entry for every bug\. Got none for "
                       r"\['inverted_class_weights'\] instead\. Add `PROBES = \{\"inverted_class_weights\": "
                       r"fn, \.\.\.\}` \(see scaffolds/_template/probes\.py\)\.$",
    "dataset_deterministic": r"^make_dataset\(seed\) must return the same train frame every time\. Got two "
                             r"different frames for seed \d+ instead\. Draw every random number from "
                             r"np\.random\.default_rng\(seed\)\.$",
    "heldout_clean": r"^Held-out rows must not repeat training rows\. Got 3 held-out feature rows that also "
                     r"occur in training instead\. Split before planting duplicates, and drop held-out "
                     r"rows that match training rows\.$",
    "heldout_labels_hidden": r"^Held-out feature columns must not be computed from held-out labels\. Got "
                             r"'recent_share' explained by the labels of the 7 rows before and after each "
                             r"row \(row order\) at R\^2 1\.000 instead\. predict\(\) sees every held-out "
                             r"row at once and can solve for the labels: compute such a column in held-out "
                             r"rows from what is known before them \(the training rows, the forecast origin\), "
                             r"or drop it there\.$",
    "workspace_no_secrets": r"^The candidate's workspace must hold nothing secret\. Got data file "
                            r"workspace/labels\.csv instead\. The runner writes data/train\.csv itself; keep "
                            r"solutions, the guide and the seed out of workspace/\.$",
    "quirk_detected:class_imbalance": r"^The planted quirk class_imbalance must be detectable in the training "
                                      r"data\. Got a silent detector instead \(.+\)\. Plant it more strongly, "
                                      r"or fix the entry make_dataset returns\.$",
    "mutants_reproduce_starter": r"^Every bug's mutant, applied in turn to the solution, then the \[\[starter\]\] edits, "
                                 r"must reproduce the starter\. "
                                 r"Got train\.py line 28 'weights = \{int\(c\): n / len\(y\) for c, n in "
                                 r"zip\(classes, counts\)\}' where the starter has 'weights = \{int\(c\): n / "
                                 r"len\(y\) for c, n in zip\(classes, counts\)\}  # balance the classes' instead\. "
                                 r"Edit mutants\.toml so each bug's `new` text is the starter's text around it "
                                 r"\(comments included\), bugs on nearby lines edit disjoint text, and differences "
                                 r"that are no bug are \[\[starter\]\] edits\.$",
    "template_text_left": r"^The brief, the guide, and the title, summary and hints must be this scaffold's own text\. "
                          r"Got brief\.md still holding the template's 'two cultivars of wine, told apart by 13 "
                          r"chemical measurements\.'; GUIDE\.md still holding the template's '.+'; scaffold\.toml "
                          r"title still holding the template's 'Template: two wine cultivars'; scaffold\.toml "
                          r"summary still holding .+; scaffold\.toml hints still holding the template's 'which "
                          r"class does the model favour, and why\?'; scaffold\.toml wording still holding the template's "
                          r"'train\.py weights each cultivar by its share of the training rows, so cultivar 1, the "
                          r"rare one, counts least\.' instead\. Rewrite them for this task: the "
                          r"candidate reads brief\.md, the title, the summary and the hints; the interviewer "
                          r"GUIDE\.md\.$",
    "no_giveaway_comments": r"^Comments, strings and names in the starter must not give a planted bug away\. Got "
                            r"train\.py line 28 '# weights per class \(wrong way round on purpose\)' \('wrong'\) "
                            r"instead\. Reword or remove them: a planted bug must look like ordinary code "
                            r"\(scaffolds/STANDARD\.md\)\.$",
    "solution_not_in_workspace": r"^The candidate's workspace must not hold the solution under any name\. Got "
                                 r"workspace/train_fixed\.py holding 100% of what solution/train\.py changes "
                                 r"instead\. Remove the copy: the solution belongs in solution/ only\.$",
    "catalog_keys_known": r"^probes\.py's PROBES keys must be planted bug ids \['inverted_class_weights'\]\. Got "
                          r"'inverted_class_weight' instead\. Did you mean 'inverted_class_weights'\? Fix the "
                          r"spelling, or drop the probe\.$",
}


@pytest.mark.parametrize("check", list(QUICK))
def test_each_quick_check_fails_alone_on_a_scaffold_broken_that_way(tmp_path, check):
    """Does a scaffold with exactly this defect fail exactly this check, with this message?"""
    root = _copy(tmp_path)
    root = QUICK[check](root) or root  # a breakage may give another folder (a fresh `pitfalls new`)
    message = _only_failure(run_checks(scaffold=root, quick=True), check)
    assert re.match(QUICK_MESSAGES[check].replace("{root}", re.escape(str(root))), message), message


STARTER_EDIT = '''
[[starter]]
file = "train.py"
old = "C=0.05"
new = "C={c}"
'''


def test_a_deliberate_difference_passes_as_a_starter_edit_and_a_wrong_one_is_named(tmp_path):
    """A starter that differs from the reference by more than its bugs fails mutants_reproduce_starter
    until a [[starter]] edit puts that difference back; a [[starter]] edit that writes other text, or
    whose old text is gone once the bugs are applied, fails it with the line or the edit named."""
    root = _copy(tmp_path)
    _edit(root / "workspace" / "train.py", "C=0.05", "C=5.0")
    message = _only_failure(run_checks(scaffold=root, quick=True), "mutants_reproduce_starter")
    assert "Got train.py line 29 " in message and "C=0.05" in message, message
    mutants = root / "mutants.toml"
    base = mutants.read_text()
    mutants.write_text(base + STARTER_EDIT.format(c="5.0"))
    _load.cache_clear()
    report = run_checks(scaffold=root, quick=True, only=["mutants_reproduce_starter"])
    assert report.ok, report.results
    assert "1 mutants and 1 [[starter]] edits applied in turn give the starter's 2 files exactly" in \
        next(r.message for r in report.results if r.name == "mutants_reproduce_starter")
    mutants.write_text(base + STARTER_EDIT.format(c="0.5"))
    _load.cache_clear()
    message = _only_failure(run_checks(scaffold=root, quick=True), "mutants_reproduce_starter")
    assert re.match(r"^Every bug's mutant, applied in turn to the solution, then the \[\[starter\]\] edits, must "
                    r"reproduce the starter\. Got train\.py line 29 'model = make_pipeline\(StandardScaler\(\), "
                    r"LogisticRegression\(class_weight=weights, C=0\.5\)\)' where the starter has '.*C=5\.0\)\)' "
                    r"instead\.", message), message
    mutants.write_text(base + STARTER_EDIT.format(c="5.0").replace('"C=0.05"', '"C=0.005"'))
    _load.cache_clear()
    message = _only_failure(run_checks(scaffold=root, quick=True), "mutants_reproduce_starter")
    assert "Got edit 1 of starter (train.py) finding its old text 0 times once the mutants before it are " \
           "applied instead." in message, message


def test_template_passes_every_quick_check_and_new_scaffolds_all_but_their_own_text(tmp_path):
    """The template passes the checks that do not train; a fresh `pitfalls new` copy passes all of
    them but template_text_left, which asks for the scaffold's own brief, guide, title and hints."""
    report = run_checks(scaffold=TEMPLATE, quick=True)
    assert report.ok and {r.status for r in report.results} == {"passed"}, report.results
    _only_failure(run_checks(scaffold=new_scaffold(name="fresh_task", parent=tmp_path), quick=True),
                  "template_text_left")
    assert "\n[calibration]" not in (tmp_path / "fresh_task" / "scaffold.toml").read_text()
    assert 'name = "fresh_task"' in (tmp_path / "fresh_task" / "scaffold.toml").read_text()


def test_new_refuses_bad_names_and_existing_folders(tmp_path):
    """`pitfalls new` says what a name must look like, and never overwrites a folder."""
    result = run_cli("new", "Bad-Name", "--parent", str(tmp_path))
    assert result.returncode == 1
    assert "A scaffold name must be a lowercase identifier" in result.stderr and "'Bad-Name'" in result.stderr
    assert run_cli("new", "my_task", "--parent", str(tmp_path)).returncode == 0
    again = run_cli("new", "my_task", "--parent", str(tmp_path))
    assert again.returncode == 1 and "must not exist yet" in again.stderr


def test_every_registered_check_is_tested_against_a_broken_scaffold():
    """No check escapes the broken-scaffold tests (quick here, training ones below)."""
    names = {f"{s.name}:class_imbalance" if s.per == "quirks" else
             f"{s.name}:inverted_class_weights" if s.per == "bugs" else s.name for s in CHECKS}
    assert names == set(QUICK) | set(FULL) | {"reference_fast", "budget_headroom",  # tests/test_check_headroom.py
                                              "variants_equally_hard"}  # tests/test_variants.py
    assert [s.name for s, _ in planned(TEMPLATE, quick=True)] == [s.name for s in CHECKS if not s.heavy]


# -- breakages that reach training --------------------------------------------------------------
def _starter_over_budget(root: Path) -> None:
    _edit(root / "workspace" / "train.py", "    model.fit(X, y)\n",
          "    model.fit(X, y)\n    model.history_ = np.zeros(1000)  # kept for plotting later\n")


def _reference_over_budget(root: Path) -> None:
    _edit(root / "solution" / "train.py", "    model.fit(X, y)\n",
          "    model.fit(X, y)\n    model.history_ = [0.0] * 1000  # kept for plotting later\n")


def _goal_too_high(root: Path) -> None:
    """The full gap as the goal, and a reference that fits a bootstrap sample for seeds other than 0:
    its retrained runs fall short of its own anchor run."""
    _edit(root / "scaffold.toml", "goal_normalized = 0.9 ", "goal_normalized = 1.0 ")
    _edit(root / "solution" / "train.py", "    model.fit(X, y)\n",
          "    rows = __import__('numpy').random.default_rng(SEED).choice(len(y), len(y)) if SEED else slice(None)\n"
          "    model.fit(X.iloc[rows], y[rows])\n")


def _gap_too_small(root: Path) -> None:
    _edit(root / "scaffold.toml", "min_gap = 0.1\n", "min_gap = 0.5\n")


def _stale_calibration(root: Path) -> None:
    text = (root / "scaffold.toml").read_text()
    (root / "scaffold.toml").write_text(re.sub(r"reference_mean = [0-9.]+", "reference_mean = 0.5", text))


def _harmless_mutant(root: Path) -> None:
    (root / "mutants.toml").write_text('''[[inverted_class_weights]]
file = "train.py"
old = "    model.fit(X, y)\\n"
new = """    model.fit(X, y)
    shadow = make_pipeline(StandardScaler(), LogisticRegression(class_weight={0: 0.9, 1: 0.1}, C=0.05))
    shadow.fit(X, y)
"""
''')


def _blind_probe(root: Path) -> None:
    _edit(root / "probes.py", 'PROBES = {"inverted_class_weights": inverted_class_weights}',
          'PROBES = {"inverted_class_weights": lambda ctx: ("fixed", "looks fine")}')


FULL = {
    "starter_within_budgets": _starter_over_budget,
    "reference_within_budgets": _reference_over_budget,
    "reference_reaches_goal": _goal_too_high,
    "starter_below_reference": _gap_too_small,
    "calibration_matches": _stale_calibration,
    "bug_bites:inverted_class_weights": _harmless_mutant,
    "probes_agree": _blind_probe,
}

FULL_MESSAGES = {
    "starter_within_budgets": r"^The starter must store at most max_params = 500 parameters\. Got 1,157 "
                              r"instead\. Shrink the model, or raise the budget if it is unfair\.$",
    "reference_within_budgets": r"^The reference must store at most max_params = 500 parameters\. Got 1,155 "
                                r"instead\. Shrink the model, or raise the budget if it is unfair\.$",
    "reference_reaches_goal": r"^The reference, retrained with each of 5 seeds, must reach task\.goal_normalized "
                              r"= 1\.00 on both slices \(starter 0, reference 1\)\. Got -?\d\.\d{3}(, -?\d\.\d{3}){4} "
                              r"instead\. Lower the goal, or make the reference's training steadier\.$",
    "starter_below_reference": r"^The starter must trail the reference by at least 0\.5 \(balanced_accuracy, "
                               r"private slice\) on every test secret\. Got starter 0\.\d{4}, reference 0\.\d{4} "
                               r"\(gap 0\.\d{4}\) on test secret 0 instead\. Plant bugs that hurt more\.$",
    "calibration_matches": r"^calibration\.reference_mean must match a fresh measurement over 5 test secrets "
                           r"\(0\.\d{4}\)\. Got 0\.5 instead\. Run `pitfalls calibrate _template --write`\.$",
    "bug_bites:inverted_class_weights": r"^Reference \+ inverted_class_weights must score worse than the "
                                        r"reference \(p < 0\.05, d >= 0\.5\)\. Got reference 0\.\d+, with the bug "
                                        r"0\.\d+ \(balanced_accuracy, private slice, mean of 5 seeds\); p=1, "
                                        r"d=0\.00 \(deterministic: every seed scores the same\) instead\. Make the bug bite \(harder data, a metric that exposes it\), "
                                        r"or declare the metric in its catalog entry's silent_on\.$",
    "probes_agree": r"^Probes must report each bug present where it is planted and fixed elsewhere\. Got "
                    r"inverted_class_weights in starter: fixed \(looks fine\); inverted_class_weights in "
                    r"inverted_class_weights: fixed \(looks fine\) instead\. Fix the probe or the mutant\.$",
}


ONE_SIDED = ("starter_within_budgets", "reference_within_budgets", "reference_reaches_goal")
"""Training checks whose breakage edits only the starter or only the reference."""

READS: dict[str, set[str]] = {
    "starter_within_budgets": {"starter"},  # CheckContext.starter(): one evaluation
    "reference_within_budgets": {"reference"},  # CheckContext.reference(): one evaluation
    "reference_reaches_goal": {"starter", "reference", "runs"},
    "reference_fast": {"reference"},
    "budget_headroom": {"starter", "reference", "runs"},
    "starter_below_reference": {"secrets"},  # CheckContext.secret_anchors(): 2 evaluations per test secret
    "calibration_matches": {"secrets"},
    "bug_bites": {"runs"},  # CheckContext.runs(): reference and each bug, every seed (probes only if silent)
    "probes_agree": {"probes"},  # CheckContext.probes(): starter, reference and each bug
    "variants_equally_hard": set(),  # the template declares no [variants]: nothing trains
}
"""The trainings (CheckContext's training-heavy values) each training check reads."""


def _suite_for(check: str) -> list[str]:
    """The checks to run against a scaffold broken for ``check``: every quick check, and every training
    check that reads only trainings ``check`` reads too (they cost nothing more)."""
    reads = READS[check.split(":")[0]]
    return [s.name for s in CHECKS if not s.heavy or READS[s.name] <= reads]


def test_reads_names_every_training_check_and_what_it_reads():
    """A new training check must say what it trains, or the tests above would never run it."""
    assert READS == {s.name: set(s.reads) for s in CHECKS if s.heavy}  # what a run of some checks prefetches
    assert set().union(*READS.values()) == {"starter", "reference", "runs", "secrets", "probes"}
    quick = [s.name for s in CHECKS if not s.heavy]
    assert _suite_for("reference_reaches_goal") == [*quick, "starter_within_budgets", "reference_within_budgets",
                                                    "reference_reaches_goal", "reference_fast", "budget_headroom",
                                                    "bug_bites", "variants_equally_hard"]
    assert _suite_for("calibration_matches") == [*quick, "starter_below_reference", "calibration_matches",
                                                 "variants_equally_hard"]
    assert _suite_for("bug_bites:inverted_class_weights") == [*quick, "bug_bites", "variants_equally_hard"]


@pytest.mark.slow
@pytest.mark.parametrize("check", list(FULL))
def test_each_training_check_fails_alone_on_a_scaffold_broken_that_way(tmp_path, check):
    """Does a scaffold with exactly this defect fail exactly this check (the quick checks and every
    training check sharing its trainings run too, :func:`_suite_for`)?"""
    root = _copy(tmp_path)
    FULL[check](root)
    # in a one-bug scaffold a mutant true to the starter is the starter, which trails the reference:
    # a harmless mutant is a stand-in, so mutants_reproduce_starter fails with it; and a defect put
    # into the starter or the reference alone makes them differ by more than the planted bug
    also = ("mutants_reproduce_starter",) if check.startswith("bug_bites") or check in ONE_SIDED else ()
    report = run_checks(scaffold=root, only=_suite_for(check))
    message = _only_failure(report, check, also)
    if also:
        assert {r.name: r.status for r in report.results}[also[0]] == "failed"
    assert re.match(FULL_MESSAGES[check], message), message


@pytest.mark.slow
def test_template_passes_every_check_and_a_slow_reference_fails_reference_fast_alone(tmp_path):
    """The whole suite passes on the template; with a 0.5 s limit only reference_fast fails (the
    checks that read the same trainings run again; the others read nothing the limit changes)."""
    report = run_checks(scaffold=TEMPLATE)
    assert report.ok and {r.status for r in report.results} == {"passed"}, report.results
    assert [r.name for r in report.results] == [f"{s.name}:{i}" if i else s.name for s, i in planned(TEMPLATE)]
    message = _only_failure(run_checks(scaffold=_copy(tmp_path), reference_seconds=0.5,
                                       only=_suite_for("reference_fast")), "reference_fast")
    assert re.match(r"^The reference must train and predict within 0\.5 s\. Got \d+\.\d s instead\. Use less "
                    r"data, fewer epochs or a smaller model\.$", message), message


@pytest.mark.slow
def test_declared_failures_are_xfailed_and_stale_declarations_fail(tmp_path):
    """A failure declared in [check] xfail is reported as xfailed (run ok); a declared failure
    that passes is xpassed and fails the run (strict); a family name (quirk_detected) covers each
    of its ids. (One training: the starter's.)"""
    root = _copy(tmp_path)
    _starter_over_budget(root)
    _edit(root / "scaffold.toml", "xfail = {} ", 'xfail = { starter_within_budgets = "history kept on purpose", '
          'quirk_detected = "the imbalance is meant to be faint", '
          'mutants_reproduce_starter = "the starter keeps a history the reference does not" } ')
    report = run_checks(scaffold=root, only=_suite_for("starter_within_budgets"))
    status = {r.name: (r.status, r.message) for r in report.results}
    assert status["starter_within_budgets"][0] == "xfailed"
    assert status["starter_within_budgets"][1].startswith("history kept on purpose | The starter must store at most")
    assert status["mutants_reproduce_starter"][0] == "xfailed"
    assert status["quirk_detected:class_imbalance"][0] == "xpassed"
    assert "remove it from [check] xfail" in status["quirk_detected:class_imbalance"][1]
    assert not report.ok and [r.name for r in report.results if r.status in ("failed", "xpassed")] == [
        "quirk_detected:class_imbalance"]


def test_check_cli_prints_a_table_json_and_exit_status(tmp_path):
    """`pitfalls check` exits 0 on a valid scaffold, 1 with a "What to fix" section otherwise."""
    ok = run_cli("check", str(TEMPLATE), "--quick")
    assert ok.returncode == 0 and "PASS  manifest_valid" in ok.stdout and "OK: 17 passed" in ok.stdout
    assert "17/17" in ok.stderr  # progress
    root = _copy(tmp_path)
    _no_guide(root)
    bad = run_cli("check", str(root), "--quick", "--json")
    assert bad.returncode == 1
    import json

    data = json.loads(bad.stdout)
    assert data["ok"] is False and data["counts"]["failed"] == 1
    assert {r["status"] for r in data["results"]} <= {"passed", "failed", "skipped"}
    usage = run_cli("check")
    assert usage.returncode == 2 and "Give a scaffold name or folder, or --all" in usage.stderr


# -- the authoring checks against a prepared author's near-misses ---------------------------------
def _status(root: Path, check: str) -> tuple[str, str]:
    result = {r.name: r for r in run_checks(scaffold=root, quick=True, only=[check]).results}[check]
    return result.status, result.message


def test_the_solution_is_found_in_the_workspace_under_any_name_and_shape(tmp_path):
    """A renamed, moved, re-indented or comment-stripped copy of the solution is caught; the starter
    (which resembles the solution everywhere but the bugs) and an unrelated helper file are not."""
    import json

    source = (TEMPLATE / "solution" / "train.py").read_text()
    stripped = "".join(line.split("#")[0].rstrip() + "\n" for line in source.splitlines())
    for name, text in (("solution/model.py", source), ("train_fixed.py", stripped),
                       ("notes/v2.txt", source.replace("    ", "  ")),
                       ("eda.ipynb", json.dumps({"cells": [{"cell_type": "code", "source": source.splitlines(True)}]}))):
        root = _copy(tmp_path / name.replace("/", "_"))
        (root / "workspace" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "workspace" / name).write_text(text)
        status, message = _status(root, "solution_not_in_workspace")
        assert status == "failed" and f"workspace/{name} holding" in message, (name, message)
    root = _copy(tmp_path / "honest")
    (root / "workspace" / "helpers.py").write_text("import numpy as np\n\n\ndef share(y):\n    return np.mean(y)\n")
    assert _status(root, "solution_not_in_workspace")[0] == "passed"


def test_giveaway_markers_anywhere_and_telling_names_near_planted_lines(tmp_path):
    """A FIXME on a line the solution shares is caught anywhere in the starter; a telling variable
    name on a planted line too; an ordinary 'fix' or 'debug' word far from the bugs is not."""
    from pitfalls.checks.authoring import _giveaways

    starter = (TEMPLATE / "workspace" / "train.py").read_text()
    solution = (TEMPLATE / "solution" / "train.py").read_text()
    far = starter.replace("import pandas as pd\n", "import pandas as pd  # FIXME pin the version\n")
    assert _giveaways("train.py", far, solution.replace("import pandas as pd\n",
                                                        "import pandas as pd  # FIXME pin the version\n")) == [
        "train.py line 12 '# FIXME pin the version' ('FIXME')"]
    named = starter.replace("weights = {int(c)", "wrong_weights = {int(c)")
    assert any("the name 'wrong_weights' ('wrong')" in f for f in _giveaways("train.py", named, solution))
    calm = starter.replace("import pandas as pd\n", "import pandas as pd  # a wrong turn here is easy to debug\n")
    assert _giveaways("train.py", calm, calm) == []
    assert _giveaways("train.py", starter, solution) == []


def test_an_unknown_key_in_a_catalog_entry_fails_with_a_did_you_mean(tmp_path):
    """`silent_onn` in a bug catalog entry is refused, naming the file, the key and the right one."""
    from pitfalls.checks.authoring import catalog_folders, catalog_keys_known
    from pitfalls.checks.context import CheckContext
    from pitfalls.checks.spec import CheckFailed

    folders = catalog_folders()
    broken = tmp_path / "bugs"
    shutil.copytree(folders["bugs"], broken)
    _edit(broken / "core.toml", 'probe = "Read class_weight / sample weights of the final fit."\n',
          'probe = "Read class_weight / sample weights of the final fit."\nsilent_onn = ["accuracy"]\n')
    ctx = CheckContext(root=TEMPLATE, catalogs={"bugs": broken, "quirks": folders["quirks"]})
    with pytest.raises(CheckFailed) as caught:
        catalog_keys_known(ctx)
    assert re.match(rf"^{re.escape(str(broken))}/core\.toml: `inverted_class_weights\.silent_onn` must be one of "
                    r"the keys of a bug catalog entry: \[.*'silent_on'.*\]\. Got 'silent_onn' instead\. Did you "
                    r"mean 'silent_on'\?", str(caught.value)), str(caught.value)
    ctx.close()
    fine = CheckContext(root=TEMPLATE)
    assert re.match(r"^\d+ bug and \d+ quirk entries, probes\.py names planted bugs$", catalog_keys_known(fine))
    fine.close()


def test_only_runs_the_named_checks_and_what_they_need_and_refuses_unknown_names():
    """--only bug_bites plans bug_bites and its prerequisites, nothing else; a typo is refused with
    the list of names and the closest one."""
    from pitfalls.checks.suite import selected
    from pitfalls.core.errors import PitfallsError

    names = [s.name for s, _ in planned(TEMPLATE, only=["bug_bites", "mutants_reproduce_starter"])]
    assert names == ["manifest_valid", "hooks_valid", "bug_ids_known", "files_present", "mutants_apply",
                     "mutants_reproduce_starter", "dataset_deterministic", "bug_bites"]
    assert set(selected(["bug_bites:inverted_class_weights"])["bug_bites"]) == {"inverted_class_weights"}
    assert planned(TEMPLATE, only=["bug_bites:someone_else"])[-1][0].name == "dataset_deterministic"
    with pytest.raises(PitfallsError, match=r"^--only must name checks from \['manifest_valid', .*'variants_equally_hard'\]\. "
                       r"Got 'bug_bite' instead\. Did you mean 'bug_bites'\? Separate several with commas\.$"):
        planned(TEMPLATE, only=["bug_bite"])
    quick = run_cli("check", str(TEMPLATE), "--only", "mutants_reproduce_starter")
    assert quick.returncode == 0 and "OK: 5 passed" in quick.stdout and "probes_declared" not in quick.stdout
    typo = run_cli("check", str(TEMPLATE), "--only", "mutant_reproduce_starter")
    assert typo.returncode == 1 and "Did you mean 'mutants_reproduce_starter'?" in typo.stderr



def test_a_second_check_of_the_same_files_measures_no_test_secret_again(tmp_path, monkeypatch):
    """calibration_matches' measurement is kept per content (runner/checks/measured.py): rewriting only
    [calibration] or [check] reuses it; a changed reference, another secret or another runner's code measures anew,
    and it is kept apart from a session's anchors."""
    from pitfalls.checks import measured as kept
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.scoring.anchors import TEST_SECRETS, anchors_path

    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))  # not the run's shared anchors: measure here
    root = _copy(tmp_path)
    trained: list[str] = []

    def heavy(fn):
        trained.append("measure")
        return fn()

    def on(secret: bytes):
        _load.cache_clear()
        return load_scaffold(root).with_secret(secret)

    first = kept.measured(on(TEST_SECRETS[0]), heavy)
    assert trained == ["measure"] and first.reference_private > first.baseline_private
    _stale_calibration(root)
    _gap_too_small(root)  # [check] says what to require of the scores, not how to get them
    assert kept.measured(on(TEST_SECRETS[0]), heavy) == first and trained == ["measure"]
    path = kept.measured_path(on(TEST_SECRETS[0]))
    session = anchors_path(on(TEST_SECRETS[0]))
    assert path.is_file() and path.parent == Path(os.environ["PITFALLS_HOME"]) / "anchors" / "check"
    assert not session.exists()  # a session's anchors are another file
    assert kept.measured_path(_load(TEMPLATE).with_secret(TEST_SECRETS[0])) == path  # same files elsewhere
    assert kept.measured_path(on(TEST_SECRETS[1])) != path
    _reference_over_budget(root)
    assert kept.measured_path(on(TEST_SECRETS[0])) != path
    _edit(root / "solution" / "train.py", "    model.history_ = [0.0] * 1000  # kept for plotting later\n", "")
    assert kept.measured_path(on(TEST_SECRETS[0])) == path  # the same files again
    monkeypatch.setattr(kept, "_runner_hash", lambda: "a pipeline that scores differently")
    assert kept.measured_path(on(TEST_SECRETS[0])) != path


def test_a_check_leaves_this_installations_anchors_so_practice_measures_nothing(tmp_path, monkeypatch):
    """The check's starter and reference evaluations are the runs anchors() would make: they are cached
    (a fresh state folder here), and reading the anchors afterwards trains nothing."""
    from pitfalls.library.scaffold import load_scaffold
    from pitfalls.scoring import anchors as anchors_mod

    monkeypatch.setenv("PITFALLS_HOME", str(tmp_path / "home"))
    root = _copy(tmp_path)
    report = run_checks(scaffold=root, only=["starter_within_budgets", "reference_within_budgets"])
    assert report.ok, report.results
    runs = anchors_mod.runs
    found = anchors_mod.anchors(load_scaffold(root))
    assert anchors_mod.runs == runs and found.reference_private > found.baseline_private + 0.1
    assert found.metric == "balanced_accuracy" and found.rows_private > 0
