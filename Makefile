# PlastiNIR: the README's two commands are `make demo` and `make test`.
# Every target creates the virtual environment on first use, so a fresh clone needs nothing else
# (Debian packages for the real broker, database and browser: see .ci/run and README.md).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= ../shared/data

.PHONY: demo test bench models soak clean venv

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[host,test]'
	touch $(STAMP)

venv: $(STAMP)

## Run the device in simulation with its status page and an embedded MQTT broker.
## (Mosquitto when installed; otherwise the pure-Python amqtt from the 'demo' extra, installed here.)
demo: $(STAMP)
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || $(BIN)/python -c "import amqtt" 2>/dev/null \
		|| $(BIN)/pip install --quiet -e '.[demo]'
	$(BIN)/nir-device demo --state-dir state/demo

## Run the whole test suite (what CI runs through .ci/run).
test: $(STAMP)
	$(BIN)/python -m pytest

## Run every benchmark in bench/ and print one table of figures and ratios.
bench: $(STAMP)
	$(BIN)/python -m bench

## A bounded soak: simulated fleet → Mosquitto → bureau on PostgreSQL, with broker/device/ingester
## kills, SPI faults and bad payloads; checks every result and prints the counts (docs/RELIABILITY.md).
SOAK_DURATION ?= 300
SOAK_SEED     ?= 1
soak: $(STAMP)
	$(BIN)/python -m soak --duration $(SOAK_DURATION) --seed $(SOAK_SEED)

clean:
	rm -rf state artifacts reports bench/results .pytest_cache

## Rebuild the shipped model packages in models/ from the real data (reports go to reports/).
## Needs the issuer key: PLASTINIR_ISSUER_KEY=/path/to/issuer.pem make models
models: $(STAMP)
	@test -n "$$PLASTINIR_ISSUER_KEY" || { echo "set PLASTINIR_ISSUER_KEY to the issuer key file (nir-host keys new --out FILE)"; exit 1; }
	PLASTINIR_DATA=$${PLASTINIR_DATA:-$(DATA)} $(BIN)/nir-host train --head fpi --out models/fpi-1550-1850-v1
	PLASTINIR_DATA=$${PLASTINIR_DATA:-$(DATA)} $(BIN)/nir-host train --head led8 --out models/led8-8band-v1
	$(BIN)/python -m host.calib.trusted models
