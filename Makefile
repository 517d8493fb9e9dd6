# make demo / make test / make bench: each creates .venv and installs what it needs itself.
# make package: the packaging step of CI (.ci/packaging: wheel, clean installs, npe2 validate).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The Qt binding the tests run on: napari-recist[viewer] pins none (napari's plugin guidelines
# leave it to the user), so the test setup installs one itself. PyQt6 renders under Xvfb here
# and passes the whole suite; `make test QT_BINDING=PyQt5` runs it on the other. qtpy (napari)
# and pytest-qt are both told which one, so a venv holding both never mixes them.
QT_BINDING ?= PyQt6
QT_API := $(shell echo '$(QT_BINDING)' | tr '[:upper:]' '[:lower:]')
STAMP := $(VENV)/.installed-$(QT_API)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Virtual display for napari's GL canvas (QT_QPA_PLATFORM=offscreen cannot render layers),
# dcmtk for dsrdump, nodejs/npm for OHIF's SR reader (dcmjs), chromium for report rendering,
# pixelmed-apps (Java) for the SR template validator, orthanc + orthanc-dicomweb for the PACS
# tests (a real server started by the tests on free loopback ports).
DEB_PACKAGES := xvfb xauth libgl1-mesa-dri libgl1 libegl1 libxkbcommon-x11-0 libxcb-icccm4 \
	libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 \
	libxcb-xfixes0 libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1 dcmtk nodejs \
	chromium pixelmed-apps orthanc orthanc-dicomweb

.PHONY: demo test bench lint package system-deps js-deps screenshot clean

# The editable install compiles the engine (src/napari_recist/criteria) and the SR parser
# (src/napari_recist/io/sr_raw.py) with mypyc beside their sources (setup.py): an edited
# criteria module (or a module its types come from) or parser rebuilds them here, and
# importing a stale build from a checkout is refused. NAPARI_RECIST_PURE=1 installs
# it interpreted. Earlier in-place builds are removed first (Python would import them before
# the sources), and a build that did not compile stops here with mypyc's messages.
ENGINE_SOURCES := $(wildcard src/napari_recist/criteria/*.py) \
	$(addprefix src/napari_recist/,model.py vocabulary.py frozen.py gcpause.py io/sr_raw.py)
ENGINE_BUILDS := src/napari_recist/criteria/*.so src/napari_recist_engine__mypyc*.so \
	src/napari_recist/model.*.so src/napari_recist/vocabulary.*.so src/napari_recist/frozen.*.so \
	src/napari_recist/io/sr_raw.*.so src/napari_recist_sr__mypyc*.so
ifneq ($(filter-out 0,$(NAPARI_RECIST_PURE)),)
STAMP := $(STAMP)-pure
endif

$(STAMP): pyproject.toml Makefile setup.py $(ENGINE_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	rm -f $(ENGINE_BUILDS) $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet -e ".[test]" "$(QT_BINDING)"
	@engine=$$($(BIN)/python -c "import napari_recist.criteria.recist as m, \
		napari_recist.io.sr_raw as r; \
		print(' '.join('interpreted' if f.endswith('.py') else 'compiled' \
		for f in (m.__file__, r.__file__)))"); \
	case "$$engine" in \
		*interpreted*) if [ -z "$(filter-out 0,$(NAPARI_RECIST_PURE))" ]; then \
			echo "The engine or the SR parser did not compile (mypyc or the C compiler" \
				"failed): run" \
				"'$(BIN)/pip install --no-deps -e .' to see why, or set NAPARI_RECIST_PURE=1"; \
			exit 1; fi ;; \
	esac
	touch $(STAMP)

system-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The main job on the sample patient: verdicts with reasons from its CT + TID 1500 SR, the
# JSON and CSV outputs, and the self-contained tumour-board page.
demo: $(STAMP)
	$(BIN)/napari-recist classify sample_dicom --json out/demo/classification.json --csv out/demo/timepoints.csv
	$(BIN)/napari-recist report sample_dicom --out out/demo
	@echo "Tumour-board page: out/demo/NRS-SAMPLE-001.html (open it in a browser)"

test: $(STAMP) system-deps js-deps
	$(BIN)/ruff check src tests benchmarks
	QT_API=$(QT_API) PYTEST_QT_API=$(QT_API) \
		xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m pytest -p no:cacheprovider

# Build the sdist and wheel, install them clean on the oldest and newest Python here, validate
# the plugin manifest in a [viewer] install (a few minutes; needs only PyPI).
package: system-deps
	QT_BINDING=$(QT_BINDING) PYTHON=$(PYTHON) bash .ci/packaging

# OHIF's SR reader (npm dcmjs, pinned by tests/_js/package-lock.json) for the SR tests.
js-deps:
	@if [ -L tests/_js/node_modules ]; then rm tests/_js/node_modules; fi
	@if [ ! -d tests/_js/node_modules/dcmjs ]; then npm ci --prefix tests/_js --no-audit --no-fund --loglevel=error; fi

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) out build *.egg-info $(ENGINE_BUILDS)
