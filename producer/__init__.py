"""HeliosGrid producer service: simulated or replayed plant readings → Kafka (``python -m producer``).

The physics and fault injection live in the library (:mod:`heliosgrid.simulation`); this
service only paces, serialises, injects bad traffic and delivers.
"""
