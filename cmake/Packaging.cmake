# The Debian package, built by CPack:
#
#   cmake -S . -B build/pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DNLPD_HARDEN=ON
#   cmake --build build/pkg -j2 && (cd build/pkg && cpack -G DEB)
#
# gives build/pkg/nlpd_VERSION_ARCH.deb: the daemon, nlpctl, the stage
# workers, the model trainers (nlpd-tag-train, nlpd-split-train and the
# split stage's abbreviation list), the stage SDK (libnlpd.so,
# include/nlpd/, nlpd.pc), the Python stage SDK, the systemd units and
# sysusers.d entry, the manuals, the docs and /etc/nlpd/nlpd.conf (a
# conffile). Its Depends come from
# dpkg-shlibdeps. The package is made from the build's own install rules,
# so it holds the paths the build was configured for: configure a build for
# /usr to make one for Debian (the CTest package_deb checks the package of
# whatever build it runs in).
#
# Included from the root CMakeLists.txt before the subdirectories: for a
# /usr build it sets Debian's layout, which their install rules use.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  # The configuration goes to /etc, not /usr/etc (what debhelper passes as
  # -DCMAKE_INSTALL_SYSCONFDIR=/etc).
  if(CMAKE_INSTALL_SYSCONFDIR STREQUAL "etc")
    set(CMAKE_INSTALL_SYSCONFDIR /etc)
  endif()
  # Units and sysusers.d where this system's systemd looks (Debian 12:
  # /lib/systemd/system, /usr/lib/sysusers.d). Set before systemd/ defines
  # these cache entries with their defaults under the prefix.
  pkg_get_variable(_nlpd_unitdir systemd systemdsystemunitdir)
  pkg_get_variable(_nlpd_sysusersdir systemd sysusersdir)
  if(_nlpd_unitdir)
    set(NLPD_SYSTEMD_UNIT_DIR ${_nlpd_unitdir} CACHE STRING
        "Where nlpd.service is installed (relative: under the prefix)")
  endif()
  if(_nlpd_sysusersdir)
    set(NLPD_SYSUSERS_DIR ${_nlpd_sysusersdir} CACHE STRING
        "Where the sysusers.d entry is installed (relative: under the prefix)")
  endif()
  # libnlpd.so goes to a directory the dynamic linker searches: no RPATH.
  set(CMAKE_INSTALL_RPATH "")
endif()

# Debian wants the licence as doc/PACKAGE/copyright: the code's (LICENSE),
# then the licences and credits of the data compiled into the programs
# (docs/DATA-LICENSES: CC BY-SA models, the GeoNames attribution, the
# WordNet notice...), which must travel with every copy.
file(READ ${PROJECT_SOURCE_DIR}/LICENSE _nlpd_licence)
file(READ ${PROJECT_SOURCE_DIR}/docs/DATA-LICENSES _nlpd_data_licences)
file(WRITE ${PROJECT_BINARY_DIR}/copyright "${_nlpd_licence}\n\n${_nlpd_data_licences}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/LICENSE
                                                              ${PROJECT_SOURCE_DIR}/docs/DATA-LICENSES)
install(FILES ${PROJECT_BINARY_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nlpd)
set(CPACK_PACKAGE_VENDOR "nlpd")
set(CPACK_PACKAGE_CONTACT "nlpd maintainers <nlpd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "streaming NLP pipeline daemon")
set(CPACK_PACKAGE_DESCRIPTION
    "nlpd takes news articles over ZeroMQ, passes them through independent stage workers (ingestion, sentences and tokens, entities, extractive summary, and custom stages written against its SDK in C or Python) and returns them annotated. It journals every accepted document, runs under systemd (Type=notify, sandboxed) and takes extra workers from other hosts.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: the libraries the binaries link, found by dpkg-shlibdeps, plus
# something that runs the sysusers.d entry.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers")
# The Python stage SDK and example stage (libexec/nlpd/python).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3, python3-zmq, python3-protobuf")

# Maintainer scripts and conffiles.
set(_nlpd_deb ${PROJECT_BINARY_DIR}/debian)
file(MAKE_DIRECTORY ${_nlpd_deb})
if(IS_ABSOLUTE ${CMAKE_INSTALL_SYSCONFDIR})
  set(_nlpd_etc ${CMAKE_INSTALL_SYSCONFDIR})
else()
  set(_nlpd_etc ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR})
endif()
file(WRITE ${_nlpd_deb}/conffiles "${_nlpd_etc}/nlpd/nlpd.conf\n")
# As debhelper's snippets do: the user and group from sysusers.d, and a
# daemon-reload only when systemd runs (not in a chroot or a container
# image being built). Nothing is enabled or started: that is the operator's
# `systemctl enable --now nlpd`.
file(WRITE ${_nlpd_deb}/postinst [=[#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if command -v systemd-sysusers >/dev/null; then
        systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} nlpd.conf
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
    fi
fi
]=])
file(WRITE ${_nlpd_deb}/postrm [=[#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
]=])
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_nlpd_deb}/conffiles ${_nlpd_deb}/postinst ${_nlpd_deb}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
