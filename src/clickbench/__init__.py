"""clickbench: benchmark interactive segmentation models by simulated clicks."""

__version__ = "0.1.0"
