# devices/sc-blk fragment: virtio-blk in front of a SystemC/TLM-2.0
# storage model, built on the SystemC bridge (cosim/systemc) and installed
# in libvusim-systemc (C++17; only when configure found SystemC).
if HAVE_SYSTEMC
libvusim_systemc_la_SOURCES += %reldir%/blk.cc
nobase_pkginclude_HEADERS += %reldir%/blk.h
endif
