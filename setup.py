"""PlastiNIR: firmware (device) and host (workstation, bureau) in one distribution.

The device install (`pip install .` or `.[pi]` on a Raspberry Pi) pulls only what the Pi
needs; the calibration toolchain and the bureau come with the `host` extra, so a device
never carries scikit-learn (DESIGN.md, dependency rule).
"""
from pathlib import Path

from setuptools import find_packages, setup

DEVICE = [
    "numpy>=1.24",
    "onnxruntime>=1.16",
    "paho-mqtt>=2.0",
    "flask>=3.0",
    "waitress>=3.0",
    "cryptography>=41",
    "pydantic>=2.5",
    "sdnotify>=0.3",
]

EXTRAS = {
    # Real hardware backends; only importable on a Raspberry Pi.
    "pi": ["RPi.GPIO>=0.7", "spidev>=3.6"],
    "host": [
        "scikit-learn>=1.4",
        "skl2onnx>=1.16",
        "onnx>=1.15",
        "scipy>=1.11",
        "matplotlib>=3.8",
        "psycopg[binary]>=3.1",
        # the bureau's fast JSON decoder (host/bureau/signed_text.py); the signed bytes stay the stdlib's
        "orjson>=3.9",
    ],
    "test": [
        "pytest>=8",
        "pytest-timeout>=2.2",
        "hypothesis>=6.90",
        "selenium>=4.15",
        # the demo's fallback broker, so its MQTT 3.1.1 degradation is tested in CI too
        "amqtt>=0.12",
    ],
    # The demo's embedded broker where Mosquitto is not installed (pure Python, MQTT 3.1.1).
    "demo": ["amqtt>=0.12"],
}

setup(
    name="plastinir",
    version="0.1.0",
    description="Handheld NIR plastic identifier: device firmware and host toolchain",
    python_requires=">=3.11",
    packages=find_packages(include=["firmware", "firmware.*", "host", "host.*"]),
    include_package_data=True,
    package_data={"firmware": ["web/templates/*.html", "web/static/*"], "host": ["templates/*"]},
    # the simulator's default FPI unit table and the shipped model packages with their trusted
    # issuers, for installs that are not a source checkout (firmware.config.model.MODELS_DIR)
    data_files=[("share/plastinir/config/units", ["config/units/sim-default.toml"])] + [
        (f"share/plastinir/{folder.as_posix()}", sorted(p.as_posix() for p in folder.iterdir() if p.is_file()))
        for folder in [Path("models"), *sorted(p for p in Path("models").iterdir() if p.is_dir())]],
    install_requires=DEVICE,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "nir-device=firmware.cli:main",
            "nir-host=host.cli:main",
        ]
    },
)
