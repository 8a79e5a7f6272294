# Repository checks that `make check` runs: exported symbol prefixes and no
# wall clock in the simulation.
dist_check_SCRIPTS += \
	%reldir%/check-symbols.sh \
	%reldir%/check-wallclock.sh
TESTS += \
	%reldir%/check-symbols.sh \
	%reldir%/check-wallclock.sh

# Set-up scripts ship in the tarball so its README quick start works.
EXTRA_DIST += \
	%reldir%/setup.sh \
	%reldir%/test.sh \
	%reldir%/demo.sh
EXTRA_DIST += %reldir%/build-tt-uml.sh %reldir%/build-lib.sh
# vusim's QEMU: the build recipe and its patch series (a directory: the
# whole series ships).
EXTRA_DIST += %reldir%/build-qemu.sh %reldir%/patches
