# tests/systemc fragment: libvusim-systemc's units and integration
if HAVE_SYSTEMC
check_PROGRAMS += tests/systemc/vusim-sc-unit
tests_systemc_vusim_sc_unit_SOURCES = tests/systemc/test_coupling.cc \
	tests/unit/devices/fakehost.c tests/unit/devices/fakehost.h \
	tests/cu_run.c tests/cu_run.h
tests_systemc_vusim_sc_unit_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_systemc_vusim_sc_unit_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS) \
	$(CUNIT_CFLAGS)
tests_systemc_vusim_sc_unit_LDADD = libvusim-systemc.la libvusim.la \
	$(SYSTEMC_LIBS) $(CUNIT_LIBS)
TESTS += tests/systemc/vusim-sc-unit
endif

if HAVE_SYSTEMC
check_PROGRAMS += tests/systemc/vusim-sc-itest
tests_systemc_vusim_sc_itest_SOURCES = tests/systemc/ssd-itest.c \
	tests/support/tmpfile.c tests/support/tmpfile.h \
	tests/cu_run.c tests/cu_run.h
tests_systemc_vusim_sc_itest_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_systemc_vusim_sc_itest_LDADD = libvufe.la libvusim.la $(CUNIT_LIBS)
TESTS += tests/systemc/vusim-sc-itest
endif

# Guests against the SystemC SSD: a UML in both notification modes (data
# checked in the guest and in the backing file) and the time-travel tier
# (three identical runs, exact read latency, replay); they skip or fail
# like the tiers of tests/local.mk.
SC_GUEST_TESTS = \
	tests/systemc/uml-sc-ssd-inband.sh \
	tests/systemc/uml-sc-ssd-eventfd.sh \
	tests/systemc/tt-sc-ssd.sh
EXTRA_DIST += tests/systemc/uml-sc-ssd.sh $(SC_GUEST_TESTS)
if HAVE_SYSTEMC
TESTS += $(SC_GUEST_TESTS)
endif

# The example programs' options, and examples/systemc-rng built out of
# the tree against the installed library (examples/local.mk).
EXTRA_DIST += tests/systemc/programs.sh
if HAVE_SYSTEMC
TESTS += tests/systemc/programs.sh
endif
