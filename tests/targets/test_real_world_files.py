"""Files as real users have them, made the ways real tools make them, read by the targets and
fingerprints readers: a hand-written YAML with anchors and merge keys, a Citizen Lab list or an
OONI fingerprints CSV saved by Excel in a Spanish locale (';' between cells), a file saved as
"Unicode" (UTF-16) by Notepad, cp1252 text, tabs for indentation. A valid file is read; a file
that cannot be is refused at the right line with a message that says what to do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netcheck.classify.fingerprints import load_fingerprint_file
from netcheck.errors import InputError
from netcheck.targets.catalogue import load_targets_file

CITIZENLAB = (
    "url,category_code,category_description,date_added,source,notes\n"
    "https://www.facebook.com/,GRP,Social Networking,2014-04-15,citizenlab,\n"
    'http://www.elpais.com/,NEWS,News Media,2017-04-12,Citizen Lab,"Popular, Spanish"\n'
)
OONI = (
    "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
    "expected_countries,source,exp_url,notes\n"
    'nat_ir_1,nat,,body,contains,"<iframe src=""http://10.10.34.34",5,IR,,,"iframe, Iran"\n'
    "nat_tr_dns,nat,,dns,full,195.175.254.2,5,TR,,,\n"
)


def _excel(text: str) -> str:
    """What Excel writes for "CSV (separado por comas)" in a Spanish locale."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(csv.reader(io.StringIO(text)))
    return "\ufeff" + out.getvalue()


def _refused(path: Path, load: object) -> InputError:
    with pytest.raises(InputError) as err:
        load(str(path))  # type: ignore[operator]
    assert err.value.file == str(path)
    assert "\n" not in str(err.value)
    return err.value


def _targets(path: Path) -> list[tuple[str, str, bool]]:
    return [(t.url, t.function, t.official) for t in load_targets_file(str(path))]


def test_a_targets_file_with_an_anchor_and_merge_keys_is_read_as_yaml_means_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "targets:\n"
        "  - &official  # the ministry's channel\n"
        "    url: https://www.youtube.com/@MinisterioLab\n"
        "    service: youtube\n"
        "    function: official_channel\n"
        "    official: true\n"
        "  - <<: *official\n"
        "    url: https://www.youtube.com/@MinisterioLab/live\n"
        "  - {<<: [*official], url: https://x.com/MinisterioEj, service: x}\n"
    )
    targets = load_targets_file(str(path))
    assert [(t.url, t.service, t.function, t.official) for t in targets] == [
        ("https://www.youtube.com/@MinisterioLab", "youtube", "official_channel", True),
        ("https://www.youtube.com/@MinisterioLab/live", "youtube", "official_channel", True),
        ("https://x.com/MinisterioEj", "x", "official_channel", True),
    ]


def test_merge_keys_are_checked_like_the_keys_they_bring_in(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "targets:\n"
        "  - &a\n"
        "    url: https://a.example/\n"
        "    service: a\n"
        "    function: view\n"
        "    <<: *a\n"
    )
    err = _refused(path, load_targets_file)
    assert err.line == 2
    assert "merges itself" in err.message
    path.write_text("targets:\n  - <<: just text\n    url: https://a.example/\n")
    err = _refused(path, load_targets_file)
    assert err.line == 2
    assert "'<<' merges a mapping" in err.message
    # a merged mapping's misspelt key is refused at its own line
    path.write_text(
        "targets:\n  - &a {url: https://a.example/, service: a, function: view,\n"
        "        servce: b}\n  - {<<: *a, url: https://b.example/}\n"
    )
    err = _refused(path, load_targets_file)
    assert err.line == 3
    assert "unknown key 'servce'" in err.message


def test_merge_keys_that_double_at_each_step_take_linear_time(tmp_path: Path) -> None:
    lines = ["targets:", "  - &m0 {url: https://a.example/, service: a, function: view}"]
    lines += [f"  - &m{i} {{<<: [*m{i - 1}, *m{i - 1}], note: n{i}}}" for i in range(1, 60)]
    path = tmp_path / "targets.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    assert len(load_targets_file(str(path))) == 60
    assert time.monotonic() - started < 2


def test_a_fingerprints_yaml_with_merge_keys_loads(tmp_path: Path) -> None:
    path = tmp_path / "fp.yaml"
    path.write_text(
        "fingerprints:\n"
        "  - &fw\n"
        "    id: agency-fw\n"
        "    vendor: agency-fw\n"
        "    scope: location\n"
        "    match: prefix\n"
        '    pattern: "http://bloqueo.agencia.gob/"\n'
        "  - <<: *fw\n"
        "    id: agency-fw-https\n"
        '    pattern: "https://bloqueo.agencia.gob/"\n'
    )
    loaded = load_fingerprint_file(str(path))
    assert [(f.id, f.vendor, f.scope, f.pattern) for f in loaded] == [
        ("agency-fw", "agency-fw", "location", "http://bloqueo.agencia.gob/"),
        ("agency-fw-https", "agency-fw", "location", "https://bloqueo.agencia.gob/"),
    ]


def test_a_citizen_lab_list_saved_by_excel_with_semicolons_reads_as_the_original(
    tmp_path: Path,
) -> None:
    original, excel = tmp_path / "list.csv", tmp_path / "excel.csv"
    original.write_text(CITIZENLAB)
    excel.write_bytes(_excel(CITIZENLAB).encode())
    assert _targets(excel) == _targets(original)
    assert len(_targets(excel)) == 2


def test_an_ooni_csv_saved_by_excel_with_semicolons_reads_as_the_original(
    tmp_path: Path,
) -> None:
    original, excel = tmp_path / "fp.csv", tmp_path / "excel.csv"
    original.write_text(OONI)
    excel.write_bytes(_excel(OONI).encode())
    assert load_fingerprint_file(str(excel)) == load_fingerprint_file(str(original))
    assert load_fingerprint_file(str(excel))[0].pattern == '<iframe src="http://10.10.34.34'


def test_blanks_at_the_end_of_a_csv_line_are_not_an_error(tmp_path: Path) -> None:
    """A closing quote followed by blanks made the csv module refuse the line; a trailing tab
    in an OONI note was refused as a control character."""
    blanks = "".join(line + " \t\n" for line in CITIZENLAB.splitlines())
    path = tmp_path / "list.csv"
    path.write_text(blanks)
    assert len(_targets(path)) == 2
    path = tmp_path / "fp.csv"
    path.write_text("".join(line + " \t\n" for line in OONI.splitlines()))
    assert [f.note for f in load_fingerprint_file(str(path))] == ["iframe, Iran", ""]


def test_an_ooni_csv_header_after_blank_lines_is_found_and_errors_name_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fp.csv"
    path.write_text("\n\n" + OONI)
    assert len(load_fingerprint_file(str(path))) == 2
    path.write_text("\n\nname,scope\nx,y\n")
    err = _refused(path, load_fingerprint_file)
    assert (err.line, err.field) == (3, "location_found")
    path.write_text("\n \n\n")
    assert "empty file" in _refused(path, load_fingerprint_file).message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("targets.yaml", "targets:\n  - url: https://a.example/\n    service: a\n"),
        ("list.csv", CITIZENLAB),
        ("fp.yaml", "fingerprints: []\n"),
        ("fp.csv", OONI),
    ],
)
def test_a_file_notepad_saved_as_unicode_says_save_it_as_utf8_at_line_1(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))  # BOM, little-endian
    load = load_fingerprint_file if name.startswith("fp") else load_targets_file
    err = _refused(path, load)
    assert err.line == 1
    assert "UTF-16" in err.message
    assert "save it as UTF-8" in err.message


@pytest.mark.parametrize("name", ["list.csv", "fp.csv", "targets.yaml"])
def test_cp1252_text_is_refused_at_the_line_with_the_accent(tmp_path: Path, name: str) -> None:
    text = {
        "list.csv": CITIZENLAB + "https://www.educacion.gob.es/,GOVT,Gov,2020-01-01,,Educación\n",
        "fp.csv": OONI + "prs_x,prod,,body,contains,Educación,5,ES,,,\n",
        "targets.yaml": "targets:\n  - url: https://a.example/\n    service: a\n"
        "    function: view\n    note: Ministerio de Educación\n",
    }[name]
    path = tmp_path / name
    path.write_bytes(text.encode("cp1252"))
    load = load_fingerprint_file if name.startswith("fp") else load_targets_file
    err = _refused(path, load)
    assert "not UTF-8" in err.message
    assert err.line == (5 if name == "targets.yaml" else 4)


def test_a_yaml_indented_with_tabs_says_so_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "# comms office\ntargets:\n  - url: https://a.example/\n\tservice: a\n    function: view\n"
    )
    err = _refused(path, load_targets_file)
    assert err.line == 4
    assert "tab" in err.message
    assert "spaces" in err.message
