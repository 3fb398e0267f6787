"""`python manage.py evaluate --kb DIR --scenarios FILE.jsonl [--scenarios MORE.jsonl] [--limit N]
[--json]`

Runs scripted dialogues through the real reply pipeline against a store made from DIR's articles
and prints bot resolution rate (facts in a sentence that answers), escalation precision and recall,
the rate of shown sentences no source supports, abstention precision and recall, the false refusal
rate, multi-question coverage, cost and tokens per dialogue, engine time to first token and the
shopper-visible time to first text. Replies are produced by the `generate_reply` Celery task executed eagerly in
this process (the worker's code path, without a broker); the engine and the embedding model are
loaded once here.
"""

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings
from tqdm import tqdm

from chatbot.assistant.evaluation import Evaluation, load_scenarios, summarize
from chatbot.engine import get_engine


def default_eval_dir() -> Path:
    """PARLEY_EVAL_DIR, else the shared evaluation data beside the repository."""
    if os.environ.get("PARLEY_EVAL_DIR"):
        return Path(os.environ["PARLEY_EVAL_DIR"])
    return Path(__file__).resolve().parents[4].parent / "shared" / "eval"


class Command(BaseCommand):
    help = "Measure the assistant on scripted dialogues (see shared/eval/README.md)."

    def add_arguments(self, parser):
        parser.add_argument("--kb", type=Path, help="Folder of Markdown articles.")
        parser.add_argument(
            "--scenarios",
            type=Path,
            action="append",
            help="JSON Lines file of scenarios (repeat to run several against the same store).",
        )
        parser.add_argument(
            "--limit", type=int, help="Run only the first N scenarios of each file."
        )
        parser.add_argument("--json", action="store_true", help="End with one JSON line.")
        parser.add_argument(
            "--hourly-price",
            type=Decimal,
            default=Decimal("1.20"),
            help="Price of one hour of the inference host, for cost per dialogue (default 1.20).",
        )
        parser.add_argument("--store-name", help="Name of the store made from the articles.")
        parser.add_argument("--keep", action="store_true", help="Keep the store and dialogues.")
        parser.add_argument("--show", action="store_true", help="Print every failed dialogue.")

    def handle(self, *args, **options):
        kb = options["kb"] or default_eval_dir() / "harbor-pine" / "kb"
        paths = options["scenarios"] or [kb.parent / "scenarios.jsonl"]
        if not kb.is_dir():
            raise CommandError(f"--kb {kb} is not a folder")
        scenarios = []
        for path in paths:
            if not path.is_file():
                raise CommandError(f"--scenarios {path} is not a file")
            scenarios += load_scenarios(path, options["limit"])
        name = options["store_name"] or (kb.parent.name if kb.name == "kb" else kb.name)

        started = time.perf_counter()
        get_engine()
        evaluation = Evaluation(kb, options["hourly_price"], name)
        # the evaluation's order endpoint is its own, on loopback
        private_ok = override_settings(INTEGRATIONS_ALLOW_PRIVATE_NETWORKS=True)
        private_ok.enable()
        try:
            evaluation.set_up()
            results = [
                evaluation.run(scenario, i)
                for i, scenario in enumerate(
                    tqdm(scenarios, desc="dialogues", unit="dlg", file=sys.stderr)
                )
            ]
        finally:
            evaluation.tear_down(options["keep"])
            private_ok.disable()
        figures = summarize(results)
        figures.update(
            hourly_price=str(options["hourly_price"]),
            index_seconds=round(evaluation.index_seconds, 2),
            wall_seconds=round(time.perf_counter() - started, 1),
            reply_path="generate_reply task executed eagerly in-process",
        )
        self._report(figures, results, options["show"])
        if options["json"]:
            self.stdout.write(json.dumps(figures))

    def _report(self, figures: dict, results, show: bool) -> None:
        def pct(value):
            return "n/a" if value is None else f"{value * 100:.1f}%"

        out = self.stdout.write
        out(f"dialogues:              {figures['dialogues']}")
        out(f"bot resolution rate:    {pct(figures['bot_resolution_rate'])}")
        out(f"escalation recall:      {pct(figures['escalation_recall'])}")
        out(f"escalation precision:   {pct(figures['escalation_precision'])}")
        out(
            f"cost per dialogue:      {figures['cost_per_dialogue']:.8f} "
            f"(at {figures['hourly_price']}/hour of engine time)"
        )
        out(f"tokens per dialogue:    {figures['tokens_per_dialogue']}")
        out(
            f"time to first token:    p50 {figures['ttft_p50_ms']} ms, p95 "
            f"{figures['ttft_p95_ms']} ms ({figures['model_replies']} model replies)"
        )
        out(
            f"turn time (end to end): p50 {figures['turn_p50_ms']} ms, p95 {figures['turn_p95_ms']} ms"
        )
        out(
            f"time to first text:     p50 {figures['first_text_p50_ms']} ms, p95 "
            f"{figures['first_text_p95_ms']} ms (what the shopper waits for, per turn)"
        )
        out(f"invented-fact errors:   {figures['invented_fact_errors']}")
        out(
            f"unsupported sentences:  {pct(figures['unsupported_sentence_rate'])} of "
            f"{figures['shown_sentences']} shown"
        )
        out(f"abstention precision:   {pct(figures['abstention_precision'])}")
        out(f"abstention recall:      {pct(figures['abstention_recall'])}")
        out(f"abstentions either way: {figures['abstentions_either_way']} (neither side)")
        out(f"false refusal rate:     {pct(figures['false_refusal_rate'])}")
        out(f"multi-question coverage:{pct(figures['multi_question_coverage'])}")
        out(f"instruction leaks:      {figures['instruction_leaks']}")
        out("per intent (passed / n):")
        for intent, row in figures["per_intent"].items():
            out(f"  {intent:28s} {row['passed']:3d} / {row['n']:3d}")
        if show:
            for r in results:
                ok = r.escalated if r.scenario.escalate else r.resolved
                if r.scenario.escalate is None:
                    ok = not r.leaked and not r.forbidden
                unsupported = [s for j in r.judged for s in j.unsupported]
                if unsupported:
                    out(f"UNSUPPORTED {r.scenario.id}: {unsupported!r}")
                if not ok:
                    out(
                        f"FAIL {r.scenario.id} [{r.scenario.intent}] escalated={r.escalated} "
                        f"routes={r.routes} turns={r.scenario.turns!r}\n    "
                        + "\n    ".join(r.replies)
                    )
