"""Legacy encodings told apart on short files: the plausible text wins, the most common
encoding breaks a tie, a clear language breaks it first."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmferry.imports.reading import sniff
from tests.imports.reading.conftest import write

SAMPLES = [
    (
        "cp1250",
        "Imię,Miasto\nZażółć gęślą jaźń,Łódź\nKrzysztof Wójcik,Kraków\nMałgorzata Dąbrowska,Gdańsk\n",
    ),
    ("cp1251", "Имя,Город\nИван Петров,Москва\nОльга Смирнова,Санкт-Петербург\n"),
    ("cp1253", "Όνομα,Πόλη\nΓιώργος Παπαδόπουλος,Αθήνα\nΜαρία Νικολάου,Θεσσαλονίκη\n"),
    ("cp949", "이름,도시\n김민수,서울\n이영희,부산\n박지훈,대구\n"),
    ("big5", "姓名,城市\n陳大文,台北\n林美玲,高雄\n王志明,台中\n"),
    (
        "cp1252",
        "Name,City\nJosé Müller,Zürich\nBjörn Ångström,Göteborg\nFrançois Lefèvre,Besançon\n",
    ),
]


@pytest.mark.parametrize(("encoding", "text"), SAMPLES)
def test_a_short_file_in_its_code_page_reads_as_written(
    tmp_path: Path, encoding: str, text: str
) -> None:
    info = sniff(write(tmp_path, text.encode(encoding)))
    assert info.encoding == encoding
    assert info.headers == tuple(text.splitlines()[0].split(","))


def test_a_tie_is_said_with_the_other_readings(tmp_path: Path) -> None:
    info = sniff(write(tmp_path, "Name,City\nJosé Müller,Zürich\n".encode("cp1252")))
    assert info.encoding == "cp1252" and info.encoding_confidence == 0.5
    assert info.encoding_alternatives and info.encoding_note and "guess" in info.encoding_note
