"""HeliosGrid: real-time monitoring and forecasting for solar-farm operators."""

__version__ = "0.1.0"
