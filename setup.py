"""The top-level folders ir/, backends/ and tools/ install as arrayrt.ir, arrayrt.backends and
arrayrt.tools; the package list is computed from the folders so a new subpackage is never dropped."""
from setuptools import find_packages, setup

PACKAGE_DIR = {"arrayrt": "arrayrt", "arrayrt.ir": "ir", "arrayrt.backends": "backends",
               "arrayrt.tools": "tools"}

packages = []
for package, folder in PACKAGE_DIR.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=PACKAGE_DIR)
