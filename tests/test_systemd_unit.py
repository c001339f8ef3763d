"""systemd/nir-device.service and nir-bureau.service: the directives issue 4 requires, the
credentials and config paths the code really reads, and systemd's own parser agrees."""
import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "nir-device.service"
BUREAU_UNIT = REPO / "systemd" / "nir-bureau.service"


def directives(unit: Path = UNIT):
    """Every ``Key=value`` of the unit, repeated keys kept (systemd allows them)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"), empty_lines_in_values=False)
    parser.optionxform = str
    found: dict[str, list[str]] = {}
    section = None
    for line in unit.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key}", []).append(value)
    parser.read_string(unit.read_text())  # also: the file is well-formed INI
    return found


def test_required_directives():
    d = directives()
    s = lambda k: d.get(f"Service.{k}", [])  # noqa: E731
    assert s("Type") == ["notify"]
    assert s("WatchdogSec") and int(s("WatchdogSec")[0]) > 0
    assert s("Restart") == ["on-failure"]
    assert s("User") == ["plastinir"] and set(s("SupplementaryGroups")[0].split()) == {"gpio", "spi"}
    assert s("ProtectSystem") == ["strict"] and s("NoNewPrivileges") == ["yes"]
    assert s("StateDirectory") == ["plastinir"]
    assert "check-config" in s("ExecStartPre")[0] and s("ExecStart")[0].split()[1] == "run"
    allowed = [v.split()[0] for v in s("DeviceAllow")]
    assert "/dev/spidev0.0" in allowed and "char-gpiochip" in allowed  # /dev/gpiochip*
    assert s("DevicePolicy") == ["closed"]
    assert "ProtectClock" not in " ".join(d)  # it would block the adjtimex clock-sync check


def test_units_load_the_credentials_and_config_the_code_reads():
    from firmware.config import ENV_CONFIG
    from firmware.mqtt.client import KEY_PASSWORD_SECRET, PASSWORD_SECRET
    from firmware.web.security import PASSWORD_SECRET as WEB_SECRET
    from host.bureau.config import ENV_CONFIG as BUREAU_ENV_CONFIG
    from host.bureau.config import PASSWORD_SECRET as BUREAU_SECRET

    device = directives(UNIT)
    assert {c.split(":")[0] for c in device["Service.LoadCredential"]} == {PASSWORD_SECRET, KEY_PASSWORD_SECRET,
                                                                          WEB_SECRET}
    assert f"{ENV_CONFIG}=/etc/plastinir/device.toml" in device["Service.Environment"]
    bureau = directives(BUREAU_UNIT)
    assert BUREAU_SECRET == PASSWORD_SECRET  # one spelling of the broker password on both sides
    assert [c.split(":")[0] for c in bureau["Service.LoadCredential"]] == [BUREAU_SECRET]
    assert f"{BUREAU_ENV_CONFIG}=/etc/plastinir/bureau.toml" in bureau["Service.Environment"]
    assert bureau["Service.ExecStartPre"] == ["/opt/plastinir/bin/nir-host bureau --check-config"]
    assert bureau["Service.Type"] == ["notify"] and bureau["Service.WatchdogSec"]


def test_sysusers_puts_the_user_in_gpio_and_spi():
    lines = (REPO / "systemd" / "plastinir-device.sysusers.conf").read_text().splitlines()
    entries = [line.split() for line in lines if line and not line.startswith("#")]
    assert ["m", "plastinir", "gpio"] in entries and ["m", "plastinir", "spi"] in entries
    assert any(e[:2] == ["u", "plastinir"] for e in entries)


@pytest.mark.parametrize("unit_file, exe_name", [(UNIT, "nir-device"), (BUREAU_UNIT, "nir-host")])
def test_systemd_analyze_verify(tmp_path, unit_file, exe_name):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    # verify checks that ExecStart's binary exists: point it at this checkout's entry point.
    exe = REPO / ".venv" / "bin" / exe_name
    if not exe.exists():
        exe = Path(shutil.which(exe_name) or "/bin/true")
    unit = tmp_path / unit_file.name
    unit.write_text(unit_file.read_text().replace(f"/opt/plastinir/bin/{exe_name}", str(exe)))
    proc = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    # Unknown or invalid keys are only warnings (exit 0), so any output about our unit fails too.
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if unit_file.name in line]
    assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr
