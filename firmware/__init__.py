"""PlastiNIR firmware: everything that runs on the Raspberry Pi (and its simulator).

Depends only on what the Pi needs (numpy, onnxruntime, paho-mqtt, flask, waitress,
cryptography, pydantic; RPi.GPIO and spidev on real hardware). It never imports ``host``.
"""
__version__ = "0.1.0"
