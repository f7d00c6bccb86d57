"""The /metrics collector in process, and the shipped alert rules under promtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lexboard.errors import LexboardError
from lexboard.server.prometheus import ExportOptions, StoreCollector
from lexboard.store import open_store
from lexboard.store.db import Store
from lexboard.store.ingest import ingest_sources
from tests.conftest import write_jsonl
from tests.records import lex_record

RULES = Path(__file__).parent.parent / "deploy" / "prometheus"
NOW = datetime(2026, 11, 2, 10, 2, tzinfo=UTC)
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),
    reason="promtool missing: apt-get install prometheus (.ci/run does)",
)

Labels = frozenset[tuple[str, str]]


def _records() -> list[dict]:
    bank = {"bot_id": "BOT1", "bot_name": "BankingBot", "alias_id": "A1", "alias_name": "prod"}
    beta = {**bank, "alias_id": "A2", "alias_name": "beta"}
    return [
        lex_record(ts="2026-11-02T10:00:00.000Z", session_id="S1", request_id="r1", **bank),
        lex_record(
            ts="2026-11-02T10:00:05.000Z",
            session_id="S1",
            request_id="r2",
            missed=True,
            intent=None,
            sentiment="NEGATIVE",
            **bank,
        ),
        # A later turn on another alias: the session still counts for its first alias.
        lex_record(
            ts="2026-11-02T10:00:10.000Z",
            session_id="S1",
            request_id="r3",
            intent="TransferFunds",
            input_mode="Speech",
            sentiment="POSITIVE",
            **beta,
        ),
        lex_record(
            ts="2026-11-02T10:01:00.000Z",
            session_id="S2",
            request_id="r4",
            sentiment=None,
            **beta,
        ),
        # No alias, no version, no intent (a PutSession-style turn): empty labels.
        lex_record(
            ts="2026-11-02T09:00:00.000Z",
            session_id="S3",
            request_id="r5",
            bot_id="BOT2",
            bot_name="Other",
            locale_id="fr_FR",
            alias_id=None,
            alias_name=None,
            version=None,
            intent=None,
            transcript=None,
            sentiment=None,
        ),
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    logs = write_jsonl(tmp_path / "logs.jsonl", _records())
    with open_store(tmp_path / "store.duckdb") as opened:
        ingest_sources(opened, [("logs", [logs])])
        ingest_sources(opened, [("logs", [logs])])  # all duplicates the second time
        yield opened


def scrape(store: Store, **options: object) -> dict[str, dict[Labels, float]]:
    text = generate_latest(StoreCollector(store, ExportOptions(**options), now=NOW)).decode()
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def labels(**values: str) -> Labels:
    return frozenset(values.items())


BANK = {"bot_id": "BOT1", "bot_name": "BankingBot", "locale_id": "en_US"}
TURN = {**BANK, "alias_id": "A1", "alias_name": "prod", "bot_version": "DRAFT"}
BETA = {**TURN, "alias_id": "A2", "alias_name": "beta"}


def test_counters_by_every_label(store: Store) -> None:
    got = scrape(store)
    requests = got["lex_requests_total"]
    assert requests == {
        labels(**TURN, input_mode="Text", intent="CheckBalance"): 1,
        labels(**TURN, input_mode="Text", intent="FallbackIntent"): 1,
        labels(**BETA, input_mode="Speech", intent="TransferFunds"): 1,
        labels(**BETA, input_mode="Text", intent="CheckBalance"): 1,
        labels(
            bot_id="BOT2",
            bot_name="Other",
            locale_id="fr_FR",
            alias_id="",
            alias_name="",
            bot_version="",
            input_mode="Text",
            intent="",
        ): 1,
    }
    missed = got["lex_missed_utterances_total"]
    assert sum(missed.values()) == 1
    assert missed[labels(**TURN, input_mode="Text", intent="FallbackIntent")] == 1
    assert set(missed) == set(requests)


def test_sessions_count_under_their_first_alias(store: Store) -> None:
    sessions = scrape(store)["lex_sessions_started_total"]
    assert sessions == {
        labels(**BANK, alias_id="A1", alias_name="prod"): 1,
        labels(**BANK, alias_id="A2", alias_name="beta"): 1,
        labels(bot_id="BOT2", bot_name="Other", locale_id="fr_FR", alias_id="", alias_name=""): 1,
    }


def test_sentiment_counts_labelled_turns_only(store: Store) -> None:
    assert scrape(store)["lex_sentiment_total"] == {
        labels(**BANK, alias_id="A1", alias_name="prod", sentiment="NEUTRAL"): 1,
        labels(**BANK, alias_id="A1", alias_name="prod", sentiment="NEGATIVE"): 1,
        labels(**BANK, alias_id="A2", alias_name="beta", sentiment="POSITIVE"): 1,
    }


def test_missed_ratio_over_the_trailing_window(store: Store) -> None:
    five = scrape(store)  # [09:57, 10:02): BOT1's four turns; BOT2's turn is older
    prod = labels(**BANK, alias_id="A1", alias_name="prod")
    beta = labels(**BANK, alias_id="A2", alias_name="beta")
    assert five["lex_missed_utterance_ratio"] == {prod: 0.5, beta: 0.0}
    assert five["lex_window_requests"] == {prod: 2, beta: 2}
    assert five["lex_missed_utterance_ratio_window_seconds"] == {frozenset(): 300}
    short = scrape(store, ratio_window_s=90)  # [10:00:30, 10:02): r4 only
    assert short["lex_missed_utterance_ratio"] == {beta: 0.0}
    # No requests in the window: no sample at all (a ratio of nothing is not 0).
    assert "lex_missed_utterance_ratio" not in scrape(store, ratio_window_s=1)


def test_ingest_health(store: Store) -> None:
    got = scrape(store)
    records = got["lexboard_ingest_records_total"]
    assert records == {
        labels(source="logs", outcome="new"): 5,
        labels(source="logs", outcome="duplicate"): 5,
        labels(source="logs", outcome="quarantined"): 0,
        labels(source="logs", outcome="expired"): 0,
    }
    newest = datetime(2026, 11, 2, 10, 1, tzinfo=UTC).timestamp()
    assert got["lexboard_last_event_timestamp_seconds"] == {labels(source="logs"): newest}
    (lag,) = got["lexboard_ingest_lag_seconds"].values()
    (success,) = got["lexboard_source_last_success_timestamp_seconds"].values()
    assert lag == pytest.approx(success - newest, abs=5)


def test_intents_beyond_the_top_n_fold_into_other(tmp_path: Path) -> None:
    counts = {"Alpha": 5, "Bravo": 4, "Charlie": 3, "Delta": 2}
    records = [
        lex_record(ts=f"2026-11-02T10:00:{i:02d}.000Z", session_id=f"s{i}", intent=intent)
        for i, intent in enumerate(i for i, n in counts.items() for _ in range(n))
    ]
    records.append(lex_record(ts="2026-11-02T10:01:00.000Z", missed=True, intent=None))
    logs = write_jsonl(tmp_path / "logs.jsonl", records)
    with open_store(tmp_path / "store.duckdb") as store:
        ingest_sources(store, [("logs", [logs])])
        intents = {
            dict(key)["intent"]: value
            for key, value in scrape(store, top_intents=2)["lex_requests_total"].items()
        }
        # FallbackIntent (one turn) is never folded; Charlie and Delta become "other".
        assert intents == {"Alpha": 5, "Bravo": 4, "other": 5, "FallbackIntent": 1}
        assert {dict(key)["intent"] for key in scrape(store)["lex_requests_total"]} == {
            *counts,
            "FallbackIntent",
        }
        assert {
            dict(key)["intent"] for key in scrape(store, top_intents=0)["lex_requests_total"]
        } == {
            "other",
            "FallbackIntent",
        }


def test_options_from_settings_and_query() -> None:
    assert ExportOptions.resolve(None) == ExportOptions(300.0, 50)
    section = {"ratio_window": "15m", "top_intents": 10}
    assert ExportOptions.resolve(section) == ExportOptions(900.0, 10)
    assert ExportOptions.resolve(section, {"window": "1m", "top_intents": "3"}) == ExportOptions(
        60.0, 3
    )
    with pytest.raises(LexboardError, match="unknown setting 'windo'"):
        ExportOptions.resolve({"windo": "5m"})
    with pytest.raises(LexboardError, match="not a duration"):
        ExportOptions.resolve(None, {"window": "five"})
    with pytest.raises(LexboardError, match="top_intents"):
        ExportOptions.resolve(None, {"top_intents": "-1"})


@needs_promtool
def test_rules_pass_promtool_check_and_unit_tests() -> None:
    check = subprocess.run(
        ["promtool", "check", "rules", str(RULES / "lexboard-rules.yml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 4 rules found" in check.stdout
    test = subprocess.run(
        ["promtool", "test", "rules", "lexboard-rules.test.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=RULES,
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout
