"""SLO documents written for other tools (Sloth, OpenSLO, Pyrra, slo-generator), translated to
``sloguard/v1`` data that the ordinary SLO reader then checks (:mod:`sloguard.slo.loader`).

``base`` holds the translation model and its builder, ``formats`` the registry and detection; one
module per peer format holds its translator.
"""
