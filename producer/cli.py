"""Command line of the producer: ``python -m producer [MODE] ...`` and ``heliosgrid producer MODE ...``.

Modes::

    realtime  (default) live simulation, one reading per device per minute at wall-clock time;
              --speed S runs a simulated clock S× faster from --start (default: 1 day ago)
              until it reaches the present; --backfill-days N first sends the last N days
              as fast as possible (the `make up` demo: --backfill-days 3 --then-live)
    backfill  --start/--end (or --days N) as fast as possible, with a progress bar
    replay    --dataset serf | --csv PATH --device-id D --site-id S --ts-column C --map F=COL[*SCALE]
    bad       --kind KIND|all --count N: exactly N bad messages of each kind (see producer.badtraffic)

Exit status: 0 done or stopped by SIGTERM/SIGINT (after a flush), 1 delivery failed,
2 invalid input (one ``error:`` line, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from heliosgrid.settings import Settings, SettingsError, load_settings, redact_url

N = TypeVar("N", int, float)

if TYPE_CHECKING:  # pandas is imported where used, so building the CLI parser stays fast
    import pandas as pd

log = logging.getLogger("heliosgrid.producer")

MODES = ("realtime", "backfill", "replay", "bad")


class UsageError(ValueError):
    """Invalid command-line input (exit status 2)."""


def _timestamp(text: str) -> pd.Timestamp:
    import pandas as pd

    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"not a timestamp: {text!r} (e.g. 2026-06-01 or 2026-06-01T06:00Z)") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _checked_number(
    convert: Callable[[str], N], ok: Callable[[N], bool], not_a_number: str, out_of_range: str
) -> Callable[[str], N]:
    """An argparse type: ``convert(text)``, which must satisfy ``ok``; otherwise an error
    ``"<not_a_number|out_of_range>, got '<text>'"``."""

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{not_a_number}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{out_of_range}, got {text!r}")
        return value

    return parse


_finite_speed = _checked_number(float, lambda v: v > 0, "speed must be a number > 0 or 'max'", "speed must be > 0")
_rate = _checked_number(float, lambda v: 0.0 <= v <= 1.0, "rate must be a number in [0, 1]", "rate must be in [0, 1]")
_positive_int = _checked_number(int, lambda v: v >= 0, "expected a whole number", "expected a number >= 0")


def _speed(text: str) -> float:
    """Simulated seconds per wall second: a number > 0, or ``inf``/``max`` (as fast as possible)."""
    return math.inf if text in {"inf", "max"} else _finite_speed(text)


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common")
    g.add_argument("--topic", help="readings topic (default: Settings.topic_readings)")
    g.add_argument("--bootstrap", help="Kafka bootstrap servers (default: Settings.kafka_bootstrap_servers)")
    g.add_argument("--seed", type=int, help="simulator seed (default: Settings.simulator_seed)")
    g.add_argument("--bad-rate", type=_rate, help="bad messages per good one (default: Settings.bad_message_rate)")
    g.add_argument("--faults", choices=("none", "random"), default="none",
                   help="inject random faults and write their ground truth (default: none)")
    g.add_argument("--fleet", type=Path, help="fleet YAML (default: Settings.sites_file or the demo fleet)")
    g.add_argument("--freq", default="1min", help="simulation step, whole minutes (default 1min)")
    g.add_argument("--no-db", action="store_true", help="no fleet registration, heartbeats or fault_events")
    g.add_argument("--checkpoint", type=Path, help="resume file (default: <data_dir>/producer/checkpoint-<mode>.json)")
    g.add_argument("--no-checkpoint", action="store_true", help="do not resume or record progress")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--max-messages", type=_positive_int, help="stop after this many good readings")
    g.add_argument("--metrics-port", type=_positive_int, default=0, help="serve Prometheus /metrics here (0 = off)")


def add_mode_parsers(sub: Any) -> None:
    """Add the mode subcommands to ``sub`` (used by both entry points)."""
    rt = sub.add_parser("realtime", help="live simulation (default mode)")
    rt.add_argument("--speed", type=_speed, default=1.0, help="simulated seconds per wall second (default 1)")
    rt.add_argument("--start", type=_timestamp, help="simulated start (default: now, or 1 day ago with --speed > 1)")
    rt.add_argument("--backfill-days", type=float, default=0.0, help="first send the last N days at full speed")
    rt.add_argument("--then-live", action="store_true", help="accepted for symmetry: realtime always ends live")
    _common(rt)
    bf = sub.add_parser("backfill", help="a date range as fast as possible")
    bf.add_argument("--start", type=_timestamp, help="first timestamp (UTC unless an offset is given)")
    bf.add_argument("--end", type=_timestamp, help="end, exclusive (default: now)")
    bf.add_argument("--days", type=float, help="instead of --start: the last N days before --end")
    bf.add_argument("--then-live", action="store_true", help="continue in real time after the range")
    _common(bf)
    rp = sub.add_parser("replay", help="replay a real dataset as a sensor stream")
    src = rp.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=("serf", "serf-east-1min"), help="NREL SERF data from the pvanalytics wheel")
    src.add_argument("--csv", type=Path, help="a CSV file (with --device-id, --site-id, --ts-column, --map)")
    rp.add_argument("--device-id", help="CSV: device id (must be registered)")
    rp.add_argument("--site-id", help="CSV: site id")
    rp.add_argument("--ts-column", default="timestamp", help="CSV: timestamp column (default 'timestamp'; '' for a "
                    "first column without a header)")
    rp.add_argument("--tz", default="UTC", help="CSV: time zone of timestamps without an offset")
    rp.add_argument("--map", action="append", metavar="FIELD=COLUMN[*SCALE]", help="CSV column → contract field")
    rp.add_argument("--start", type=_timestamp, help="date the data is shifted to (default: so it ends yesterday)")
    rp.add_argument("--speed", type=_speed, default=math.inf, help="pace (default: as fast as possible)")
    _common(rp)
    bad = sub.add_parser("bad", help="send exactly N bad messages of a kind")
    bad.add_argument("--kind", required=True, help="a kind from producer.badtraffic.BAD_KINDS, or 'all'")
    bad.add_argument("--count", type=_positive_int, default=1, help="messages per kind (default 1)")
    _common(bad)


def build_parser(prog: str = "python -m producer") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0] if __doc__ else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    sub = parser.add_subparsers(dest="mode", metavar="MODE")
    add_mode_parsers(sub)
    return parser


def _database_url(settings: Settings, no_db: bool) -> str | None:
    if no_db:
        return None
    from heliosgrid.db.connection import DatabaseUnavailable, resolve_database_url

    try:
        return resolve_database_url(settings)
    except (DatabaseUnavailable, OSError, RuntimeError) as exc:
        log.warning("no database (fleet registration, heartbeats and fault_events skipped): %s",
                    redact_url(str(exc)).strip())
        return None


def _now_floor(freq: str) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").floor(pd.Timedelta(freq))


def _realtime_window(args: argparse.Namespace) -> tuple[pd.Timestamp, float]:
    """Start time and speed of a realtime run: an explicit ``--start``, a backfill of
    ``--backfill-days`` caught up at full speed (the never-in-the-future rule makes it live), or now."""
    import pandas as pd

    speed = float(args.speed)
    now = _now_floor(args.freq)
    if args.start is not None:
        start = args.start
    elif args.backfill_days > 0:
        start = now - pd.Timedelta(days=args.backfill_days)
    else:
        start = now - pd.Timedelta(days=1) if speed > 1 else now
    if args.backfill_days > 0 and speed == 1.0:
        speed = math.inf
    return start, speed


def _backfill_window(args: argparse.Namespace) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """``[start, end)`` of a backfill (``end`` None with ``--then-live``); UsageError when it is empty."""
    import pandas as pd

    end = args.end or _now_floor(args.freq)
    if args.start is None and args.days is None:
        raise UsageError("backfill needs --start or --days")
    start = args.start if args.start is not None else end - pd.Timedelta(days=args.days)
    if end <= start:
        raise UsageError(f"--end {end} must be after --start {start}")
    return start, None if args.then_live else end


def _replay_source(args: argparse.Namespace) -> tuple[pd.DataFrame, Any]:
    """The replayed readings, shifted so that they start at ``--start`` (default: the data ends
    yesterday, so all of it is in the past and replays at full speed), and the replay's fleet."""
    import pandas as pd

    from producer.replay import DATASETS, load_csv, parse_mapping, shift_to_start

    if args.dataset:
        source = DATASETS[args.dataset]()
    else:
        if not args.device_id or not args.site_id:
            raise UsageError("--csv needs --device-id and --site-id")
        source = load_csv(args.csv, device_id=args.device_id, site_id=args.site_id,
                          mapping=parse_mapping(args.map), ts_column=args.ts_column, timezone=args.tz)
    frame = source.readings
    if args.start is not None:
        return shift_to_start(frame, args.start), source.fleet
    # default: every site (file) is shifted so that it ends yesterday. The span over all files (years apart) put
    # the start years back, and every reading before the window the consumer accepts (stale_timestamp).
    yesterday = _now_floor("1D") - pd.Timedelta(days=1)
    parts = [shift_to_start(rows, yesterday - (rows["ts"].max().normalize() - rows["ts"].min().normalize()))
             for _, rows in frame.groupby("site_id", sort=False)]
    shifted = pd.concat(parts).sort_values(["ts", "device_id"], kind="stable").reset_index(drop=True)
    return shifted, source.fleet


def _warn_if_stale(frame: pd.DataFrame, settings: Settings) -> None:
    """Say how many replayed readings the consumer will quarantine as ``stale_timestamp`` (before the accepted
    window: older than the raw retention by default) and how to keep them."""
    import numpy as np
    import pandas as pd

    from heliosgrid.ingest.batch import ts_window

    earliest, _ = ts_window(settings).bounds(pd.Timestamp.now(tz="UTC").to_pydatetime())
    stale = int((frame["ts"] < pd.Timestamp(earliest)).sum())
    if stale:
        days = (pd.Timestamp.now(tz="UTC") - frame["ts"].min()) / pd.Timedelta(days=1)
        log.warning("%d of %d replayed readings are before %s, the start of the window the consumer accepts: they "
                    "will be quarantined as stale_timestamp. Give a later --start, or raise "
                    "HELIOS_INGEST_TS_MAX_AGE_DAYS to %d for the consumer to keep them", stale, len(frame),
                    pd.Timestamp(earliest).isoformat(), int(np.ceil(days)) + 1)


def run_from_args(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Run the mode selected by ``args``; returns the exit status."""

    from heliosgrid.fleet import fleet_from_settings
    from heliosgrid.simulation import grid_step
    from producer.service import ProducerService, RunConfig

    settings = settings or load_settings()
    mode = args.mode or "realtime"
    try:
        grid_step(args.freq)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.fleet is not None:
        settings = settings.model_copy(update={"sites_file": args.fleet})
    topic = args.topic or settings.topic_readings
    bootstrap = args.bootstrap or settings.kafka_bootstrap_servers
    seed = settings.simulator_seed if args.seed is None else args.seed
    bad_rate = settings.bad_message_rate if args.bad_rate is None else args.bad_rate

    if mode == "bad":
        return _send_bad(args, topic, bootstrap, seed, settings)

    fleet = fleet_from_settings(settings)
    replay_frame = None
    end: pd.Timestamp | None = None
    if mode == "realtime":
        start, speed = _realtime_window(args)
    elif mode == "backfill":
        start, end = _backfill_window(args)
        speed = math.inf
    else:  # replay
        replay_frame, fleet = _replay_source(args)
        _warn_if_stale(replay_frame, settings)
        start, speed = replay_frame["ts"].min(), args.speed
    checkpoint = None if args.no_checkpoint else (
        args.checkpoint or settings.data_dir / "producer" / f"checkpoint-{mode}.json"
    )
    run_mode: Literal["realtime", "backfill", "replay"] = (
        "realtime" if mode == "realtime" else "backfill" if mode == "backfill" else "replay"
    )
    config = RunConfig(
        mode=run_mode, topic=topic, bootstrap_servers=bootstrap, start=start, end=end, speed=speed, freq=args.freq,
        seed=seed, faults=args.faults if mode != "replay" else "none",
        fault_rate_per_device_month=settings.producer_fault_rate_per_device_month, bad_rate=bad_rate,
        database_url=_database_url(settings, args.no_db), checkpoint=checkpoint,
        labels_dir=settings.data_dir / "labels", progress=not args.no_progress and sys.stderr.isatty(),
        max_messages=args.max_messages, partitions=settings.topic_partitions, linger_ms=settings.producer_linger_ms,
        heartbeat_interval_s=settings.producer_heartbeat_interval_s, replay_frame=replay_frame,
        metrics_port=args.metrics_port, noise=settings.sim_noise_profile,
    )
    service = ProducerService(config, fleet)
    service.install_signal_handlers()
    log.info("producer %s: topic %s on %s, from %s%s, speed %s, faults %s, bad rate %g",
             mode, topic, bootstrap, start.isoformat(), f" to {end.isoformat()}" if end is not None else "",
             "max" if speed == math.inf else f"{speed:g}x", config.faults, bad_rate)
    stats = service.run()
    return stats.exit_code


def _send_bad(args: argparse.Namespace, topic: str, bootstrap: str, seed: int, settings: Settings) -> int:
    from heliosgrid.broker import ensure_topics
    from heliosgrid.fleet import fleet_from_settings
    from producer.badtraffic import BAD_KINDS, make_bad_messages
    from producer.service import build_kafka_producer

    kinds = list(BAD_KINDS) if args.kind == "all" else [args.kind]
    if any(k not in BAD_KINDS for k in kinds):
        raise UsageError(f"unknown kind {args.kind!r}; expected 'all' or one of {', '.join(BAD_KINDS)}")
    fleet = fleet_from_settings(settings)
    devices = [(d.device_id, d.site_id) for s in fleet for d in s.inverters]
    ensure_topics(bootstrap, {topic: settings.topic_partitions})
    producer = build_kafka_producer(bootstrap, settings.producer_linger_ms, client_id="heliosgrid-producer-bad")
    try:
        for kind in kinds:
            messages = make_bad_messages(kind, args.count, seed, devices=devices)
            for key, value, _expected in messages:
                producer.send(topic, key=key, value=value)
            log.info("sent %d %s message(s) (expected reason: %s)", len(messages), kind,
                     messages[0][2] if messages and messages[0][2] else "none: valid")
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=30)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m producer``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    head = ["--debug"] if argv[:1] == ["--debug"] else []
    rest = argv[len(head):]
    if not rest or (rest[0] not in MODES and rest[0] not in {"-h", "--help"}):
        rest = ["realtime", *rest]  # no mode given: real time (e.g. `--backfill-days 3 --then-live`)
    argv = head + rest
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.debug:
        logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        return run_from_args(args)
    except (UsageError, SettingsError, ValueError) as exc:
        print(f"error: {redact_url(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        from producer.service import ProducerError

        if isinstance(exc, ProducerError):
            print(f"error: {redact_url(str(exc))}", file=sys.stderr)
            return 1
        print(f"error: {type(exc).__name__}: {redact_url(str(exc))} (run with --debug for details)", file=sys.stderr)
        return 1
