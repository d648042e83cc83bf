"""Packages: ogcserver and its subpackages, plus the top-level capabilities templates shipped
inside it (discovery in pyproject.toml cannot add a package mapped from another folder)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["ogcserver*"]), "ogcserver.capabilities_templates"],
    package_dir={"ogcserver.capabilities_templates": "capabilities_templates"},
)
