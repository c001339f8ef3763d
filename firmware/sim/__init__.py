"""The register-level simulator: simulated GPIO, SPI bus, ADS1256, DAC8532 and the optics behind them.

The real drivers run unchanged against these (DESIGN.md: "the code path that a test or demo
exercises is the code path on a real Pi"). `board.SimBoard` assembles a whole simulated board;
``firmware.board.open_board`` builds one when the backend is ``sim``.
"""
