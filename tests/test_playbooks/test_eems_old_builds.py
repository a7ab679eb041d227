"""eems.yml with servers whose build has no EEMS properties (2013 and CUs
before September 2021): their null flags are "no such switch", never "off"."""
from __future__ import annotations

from test_eems_playbook import _eems, _lines, _verdict, _writes


def test_a_2013_server_neither_reads_nor_reports_the_organisation_flag(lab_factory, tmp_path):
    # EX13A sorts first: its session cannot read the organisation's flag,
    # which is off; in check mode nobody changes it, so the summary keeps
    # the first entry that could read it.
    lab = lab_factory({"organizations": [{"name": "Contoso", "mitigations_enabled": False}],
                       "servers": [{"name": "EX13A", "build": "15.0.1497.48"},
                                   {"name": "EX19OLD", "build": "15.2.922.27"},
                                   {"name": "EXSE1", "build": "15.2.2562.53"}]})
    result = _eems(lab, tmp_path, "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    _, rows, lines = _lines(result.stdout)
    verdicts = {name: _verdict(line)[:2] for name, line in rows.items()}
    assert verdicts["EX13A"] == ("not_applicable", "not_applicable")
    # 2019 CU10: no switch to blame, the build is.
    assert verdicts["EX19OLD"] == ("not_working", "build_before_march_2023")
    assert verdicts["EXSE1"] == ("disabled", "disabled_at_organization")
    # Before: "organisation Contoso already has MitigationsEnabled=True", from
    # EX13A, while the flag is off.
    org_lines = [line for line in lines if line.startswith("organisation Contoso")]
    assert org_lines == ["organisation Contoso: MitigationsEnabled would be set to True by EXSE1"], lines
    assert _writes(lab) == {}
