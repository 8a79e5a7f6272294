# devices/sc-blk fragment: virtio-blk in front of a SystemC/TLM-2.0
# storage model, built on the SystemC bridge (cosim/systemc) and installed
# in libvusim-systemc (C++17; only when configure found SystemC).
if HAVE_SYSTEMC
libvusim_systemc_la_SOURCES += %reldir%/blk.cc
nobase_pkginclude_HEADERS += %reldir%/blk.h
endif

# bench-systemc: this adapter in front of a zero-time TLM memory against
# the C blk model, the same request workload, interleaved rounds (the
# program keeps its name, bench/systemc).
if HAVE_SYSTEMC
BENCHES += systemc
EXTRA_PROGRAMS += bench/systemc
bench_systemc_SOURCES = %reldir%/bench.cc
bench_systemc_CXXFLAGS = $(AM_CXXFLAGS) $(SYSTEMC_CFLAGS) -O2
bench_systemc_LDADD = libvusim-systemc.la libvusim.la $(SYSTEMC_LIBS)
CLEANFILES += bench/systemc$(EXEEXT)
bench-systemc: bench/systemc$(EXEEXT)
	SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 bench/systemc$(EXEEXT)
endif
EXTRA_DIST += %reldir%/bench.cc
