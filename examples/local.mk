# examples fragment: SystemC models built on libvusim-systemc, installed
# as programs (vusim-sc-ssd, vusim-sc-rng) and tested in the tree.
EXTRA_DIST += \
	examples/systemc-ssd/main.cc examples/systemc-ssd/ssd.cc \
	examples/systemc-ssd/ssd.h examples/systemc-rng/main.cc \
	examples/systemc-rng/rng.cc examples/systemc-rng/rng.h
if HAVE_SYSTEMC
bin_PROGRAMS += vusim-sc-ssd vusim-sc-rng
vusim_sc_ssd_SOURCES = examples/systemc-ssd/main.cc \
	examples/systemc-ssd/ssd.cc examples/systemc-ssd/ssd.h
vusim_sc_ssd_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS)
vusim_sc_ssd_LDADD = libvusim-systemc.la libvusim.la $(SYSTEMC_LIBS)
vusim_sc_rng_SOURCES = examples/systemc-rng/main.cc \
	examples/systemc-rng/rng.cc examples/systemc-rng/rng.h
vusim_sc_rng_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS)
vusim_sc_rng_LDADD = libvusim-systemc.la libvusim.la $(SYSTEMC_LIBS)
dist_man_MANS += man/vusim-sc-ssd.1 man/vusim-sc-rng.1
endif
