"""The search box's syntax, parsed: words, phrases, exclusions and filters."""

from __future__ import annotations

from datetime import datetime

from core.search.query import Filters, filter_values, parse, parse_date, set_filter


def test_every_kind_of_term_is_parsed() -> None:
    q = parse('tomato blight "late   Blight" -potato type:PDF type:.md in:Projects after:2024-01 before:2024-06-30')
    assert q.text == "tomato blight late Blight"
    assert q.phrases == ("late Blight",)
    assert q.excluded == ("potato",)
    assert q.filters.types == ("pdf", "md")
    assert q.filters.folders == ("Projects",)
    assert q.filters.after == datetime(2024, 1, 1).timestamp()
    assert q.filters.before == datetime(2024, 6, 30).timestamp()
    assert not q.problems


def test_hyphens_inside_words_and_unknown_keys_stay_words() -> None:
    q = parse("covid-19 x-in:foo title:intro -")
    assert q.text == "covid-19 x-in:foo title:intro -"
    assert not q.excluded and not q.filters


def test_a_quoted_exclusion_and_a_quoted_folder() -> None:
    q = parse('garden -"green fruit" in:"My Documents"')
    assert q.text == "garden"
    assert q.excluded == ("green fruit",)
    assert q.filters.folders == ("My Documents",)


def test_an_unclosed_quote_is_a_phrase_to_the_end() -> None:
    q = parse('sourdough "wild yeast')
    assert q.phrases == ("wild yeast",)
    assert q.text == "sourdough wild yeast"


def test_a_bad_date_is_searched_as_a_word_and_explained() -> None:
    q = parse("report after:someday before:2024-13")
    assert q.text == "report someday 2024-13"
    assert q.filters.after is None and q.filters.before is None
    assert len(q.problems) == 2 and "not a date" in q.problems[0]


def test_dates_name_the_start_of_a_year_month_or_day() -> None:
    assert parse_date("2024") == datetime(2024, 1, 1).timestamp()
    assert parse_date("2024-6") == datetime(2024, 6, 1).timestamp()
    assert parse_date("2024-02-30") is None
    assert parse_date("yesterday") is None


def test_filters_admit_by_suffix_path_and_time() -> None:
    f = Filters(types=("pdf",), folders=("projects",), after=100.0, before=200.0)
    assert f.admits("/home/a/Projects/plan.PDF", 150.0)
    assert not f.admits("/home/a/Projects/plan.md", 150.0)
    assert not f.admits("/home/a/Other/plan.pdf", 150.0)
    assert not f.admits("/home/a/Projects/plan.pdf", 200.0)
    assert not f.admits("/home/a/Projects/plan.pdf", None)
    assert Filters().admits("/anything")


def test_set_filter_replaces_adds_and_removes_one_kind() -> None:
    assert set_filter("blight type:pdf in:garden", "type", "md") == "blight in:garden type:md"
    assert set_filter("blight type:pdf type:md", "type", "") == "blight"
    assert set_filter("blight", "in", "My Docs") == 'blight in:"My Docs"'
    assert filter_values(set_filter("blight", "in", "My Docs"), "in") == ["My Docs"]
    assert parse(set_filter('"late blight" -potato', "after", "2024-01")).phrases == ("late blight",)
