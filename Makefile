# Two entry points (see README): `make demo` scans photos, `make test` runs every test.
# Each creates .venv and installs what it needs; both are safe to re-run.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PHOTOS ?=

.PHONY: demo test app lint typecheck-path bench clean exiftool desktop-deps

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.all: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $(VENV)/.base $@

# Scan PHOTOS (default: sample photos GeoScope draws, with the photos installed packages
# ship, and a sample GPS track that places one of them) with the default model; prints
# a table and writes nothing.
demo: $(VENV)/.base
	@if [ -n "$(PHOTOS)" ]; then $(VENV)/bin/geoscope scan "$(PHOTOS)"; else \
	  dir=$$($(PY) -m geoscope_core.samples) && \
	  echo "... and sample-track.gpx, a GPS track GeoScope made." && \
	  $(VENV)/bin/geoscope track "$$dir/sample-track.gpx" && \
	  $(VENV)/bin/geoscope scan "$$dir" --track "$$dir/sample-track.gpx"; fi

# ExifTool is the independent reader the metadata tests compare against.
exiftool:
	@command -v exiftool >/dev/null || { apt-get update -qq && apt-get install -y -qq libimage-exiftool-perl >/dev/null; }

# The system libraries Qt's X11 plugin loads (Debian/Ubuntu packages, listed in
# desktop/system_libs.py); without them the app cannot open its window.
desktop-deps:
	@pkgs="$$($(PYTHON) desktop/system_libs.py)"; \
	dpkg -s $$pkgs >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $$pkgs >/dev/null; }

test: $(VENV)/.all exiftool desktop-deps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The desktop app (PHOTOS opens that folder).
app: $(VENV)/.all desktop-deps
	$(VENV)/bin/geoscope app $(PHOTOS)

# mypy cannot follow the editable install's import hook to export/ and desktop/, which
# import as geoscope_export and geoscope_desktop: link each renamed folder of pyproject's
# package-dir under its import name in build/typecheck, the mypy_path of [tool.mypy].
define TYPECHECK_PATH
import pathlib
try:
    import tomllib
except ImportError:  # Python 3.10: mypy installs tomli
    import tomli as tomllib
dirs = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
out = pathlib.Path("build/typecheck")
out.mkdir(parents=True, exist_ok=True)
for name, folder in dirs.items():
    if name != folder and not (out / name).is_symlink():
        (out / name).symlink_to(pathlib.Path("../..", folder), target_is_directory=True)
endef
export TYPECHECK_PATH

typecheck-path:
	@$(PY) -c "$$TYPECHECK_PATH"

lint: $(VENV)/.all typecheck-path
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/vulture

clean:
	rm -rf $(VENV) build dist *.egg-info
