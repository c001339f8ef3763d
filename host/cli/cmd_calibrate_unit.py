"""``nir-host calibrate-unit``: verify a unit, correct it, transfer the master model, certify it.

Against a unit on the bench: ``--device http://UNIT:8080`` (the technician password from
``--password-file`` or ``$PLASTINIR_TECH_PASSWORD``), guided ("place the white tile, press
Enter") unless ``--non-interactive``. Against an in-process simulated unit: ``--sim`` with the
unit's errors (``--sim-wavelength-error``, ``--sim-gain-error``, ``--sim-fault``, …).

Exit status: 0 for a passing certificate, 1 for a failing one (written and installed: the unit
refuses to measure until recalibrated), 2 when the workflow could not finish (unit unreachable,
certificate refused by the unit, bad arguments).
"""
from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
from pathlib import Path

HELP = "verify, correct and certify a unit (wavelength, photometry, model transfer, signed certificate)"
PASSWORD_ENV = "PLASTINIR_TECH_PASSWORD"


def add_arguments(parser) -> None:
    where = parser.add_argument_group("the unit")
    where.add_argument("--device", default=None, help="the unit's page, e.g. http://192.168.4.1:8080")
    where.add_argument("--password-file", type=Path, default=None,
                       help=f"file holding the technician password (default: ${PASSWORD_ENV}, else asked)")
    where.add_argument("--sim", action="store_true", help="calibrate an in-process simulated unit instead")
    where.add_argument("--non-interactive", action="store_true",
                       help="do not wait for Enter at each step (scripts, sample changers, --sim)")
    sim = parser.add_argument_group("simulated unit (--sim)")
    sim.add_argument("--sim-head", choices=("fpi", "led8"), default="fpi")
    sim.add_argument("--sim-wavelength-error", type=float, default=0.0, metavar="NM",
                     help="the unit measures at λ+NM when asked for λ")
    sim.add_argument("--sim-gain-error", type=float, default=0.0, metavar="FRACTION",
                     help="the unit reads (1+FRACTION)× the master's reflectance (0.2: 20 %% high)")
    sim.add_argument("--sim-fault", action="append", default=[], metavar="NAME",
                     help="inject a simulator fault from power-up (repeatable), e.g. lamp-failure")
    sim.add_argument("--sim-noise-scale", type=float, default=1.0, metavar="X", help="every noise source × X")
    sim.add_argument("--sim-stray", type=float, default=0.01, metavar="R", help="stray light as a flat reflectance")
    sim.add_argument("--sim-seed", type=int, default=7)
    sim.add_argument("--sim-drift", type=float, default=0.0, metavar="C_PER_MIN",
                     help="head temperature drift during the calibration")
    cert = parser.add_argument_group("certificate")
    cert.add_argument("--out", required=True, type=Path, help="folder for the certificate (JSON, HTML, PDF)")
    cert.add_argument("--technician", default=None, help="name on the certificate (default: the login name)")
    cert.add_argument("--key", default=None,
                      help="technician/issuer key (default: $PLASTINIR_ISSUER_KEY; --sim makes a throwaway one)")
    cert.add_argument("--reference-set", type=Path, default=None, metavar="FILE.csv",
                      help="(--device) the reference items as measured on the master unit (spectra CSV, one row "
                           "per item, with labels): placed on the unit in turn and compared; without it the "
                           "transfer step is skipped")
    cert.add_argument("--model", type=Path, default=None,
                      help="master model package to transfer (default: the newest shipped one for the head)")
    cert.add_argument("--interval-days", type=int, default=182, help="next calibration due after this many days")
    cert.add_argument("--pdf", choices=("auto", "never"), default="auto",
                      help="print a PDF with chromium/libreoffice when available (default auto)")
    cert.add_argument("--warmup-interval", type=float, default=30.0, metavar="S",
                      help="seconds between the warm-up readings (default 30)")
    cert.add_argument("--json", action="store_true", help="print the outcome as one JSON object on stdout")


def _key(args, workdir: Path):
    from firmware.signing import generate_key, save_private_key
    from host.package_writer import issuer_key
    if args.key or os.environ.get("PLASTINIR_ISSUER_KEY") or not args.sim:
        return issuer_key(args.key)
    key = generate_key()
    save_private_key(key, workdir / "technician.pem")
    print(f"--sim: signing with a throwaway technician key ({workdir / 'technician.pem'}); pass --key to use yours",
          file=sys.stderr)
    return key


def _password(args) -> str:
    if args.password_file:
        return args.password_file.read_text(encoding="utf-8").strip()
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if args.non_interactive:
        raise SystemExit(f"no technician password: pass --password-file or set {PASSWORD_ENV}")
    return getpass.getpass("technician password: ")


def run(args) -> int:
    import numpy as np

    from firmware.config.model import newest_package
    from firmware.errors import PlastiNIRError
    from firmware.signing import public_key_b64
    from host.unitcal.bench import GuidedBench
    from host.unitcal.device import HttpDevice
    from host.unitcal.simunit import SimBench, SimUnit, master_answers, reference_set
    from host.unitcal.transfer import reference_set_from_csv
    from host.unitcal.workflow import Options, calibrate

    if args.sim == bool(args.device):
        print("calibrate-unit: give exactly one of --device URL or --sim", file=sys.stderr)
        return 2
    technician = args.technician or getpass.getuser()
    with tempfile.TemporaryDirectory(prefix="plastinir-calibrate-") as tmp:
        workdir = Path(tmp)
        try:
            key = _key(args, workdir)
            head = args.sim_head if args.sim else None
            units: list[SimUnit] = []
            try:
                if args.sim:
                    model = args.model or newest_package(head)
                    unit = SimUnit(workdir / "unit", head=head, wavelength_error_nm=args.sim_wavelength_error,
                                   gain_error=args.sim_gain_error, noise_scale=args.sim_noise_scale,
                                   stray_reflectance=args.sim_stray, faults=args.sim_fault, seed=args.sim_seed,
                                   trusted_keys=[public_key_b64(key)], model=model)
                    units.append(unit)
                    if args.sim_drift and unit.board is not None:
                        unit.board.sim.set_drift(args.sim_drift)
                    master = SimUnit(workdir / "master", head=head, seed=args.sim_seed + 1, serve=False, model=model)
                    units.append(master)
                    items = reference_set(master.package(), np.random.default_rng(args.sim_seed))
                    master_answers(master, items)
                    device = HttpDevice(unit.url)
                    device.login(unit.password)
                    bench = SimBench(unit)
                else:
                    device = HttpDevice(args.device)
                    device.login(_password(args))
                    head = device.status()["head"]
                    model = args.model or newest_package(head)
                    items = reference_set_from_csv(args.reference_set, model) if args.reference_set else []
                    bench = GuidedBench(interactive=not args.non_interactive)
                options = Options(technician=technician, key=key, model=model, out_dir=args.out,
                                  interval_days=args.interval_days, pdf=args.pdf == "auto",
                                  warmup_interval_s=args.warmup_interval)
                outcome = calibrate(device, bench, items, options)
            finally:
                for u in reversed(units):
                    u.close()
        except PlastiNIRError as exc:
            print(f"calibrate-unit: {exc}", file=sys.stderr)
            return 2
    summary = outcome.summary()
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"certificate {summary['calibration_id']} for {summary['unit']}: "
              f"{'PASSED' if outcome.passed else 'FAILED: ' + ', '.join(summary['failed_checks'])}; "
              f"due {summary['due']}; {summary['files']['json']}")
    return 0 if outcome.passed else 1
