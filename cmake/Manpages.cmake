# The manuals: docs/man/*.scd (scdoc source) become man pages in
# BUILD/man/manN/ (a MANPATH entry: `man -M build/dev/man nlpd`) and are
# installed under share/man. Without scdoc (Debian: scdoc) nothing is
# built or installed, and configure says so.
#
# Included after the subdirectories (the trainers' pages depend on their
# targets). Sets NLPD_MAN_PAGES (every page, NAME.SECTION), NLPD_MAN_DIR
# (empty without scdoc) and the target `manpages` (part of ALL).

set(NLPD_MAN_PAGES nlpd.8 nlpctl.1 nlpd.conf.5)
# The trainers' manuals go with the trainers (installed when built: the
# tag trainer needs liblbfgs).
foreach(_trainer nlpd-tag-train nlpd-split-train)
  if(TARGET ${_trainer})
    list(APPEND NLPD_MAN_PAGES ${_trainer}.1)
  endif()
endforeach()
set(NLPD_MAN_DIR "")

find_program(SCDOC scdoc)
if(NOT SCDOC)
  message(STATUS "scdoc not found: the manuals (docs/man/*.scd) are not built or installed "
                 "(Debian: apt-get install scdoc)")
  return()
endif()

set(NLPD_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(_man_outputs "")
foreach(_page ${NLPD_MAN_PAGES})
  string(REGEX MATCH "[0-9]$" _section ${_page})
  set(_src ${PROJECT_SOURCE_DIR}/docs/man/${_page}.scd)
  set(_out ${NLPD_MAN_DIR}/man${_section}/${_page})
  # scdoc reads standard input and writes standard output; it dates the
  # page by SOURCE_DATE_EPOCH when set (reproducible builds), else today.
  add_custom_command(
    OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${NLPD_MAN_DIR}/man${_section}
    COMMAND sh -c "\"$0\" < \"$1\" > \"$2.tmp\" && mv \"$2.tmp\" \"$2\"" ${SCDOC} ${_src} ${_out}
    DEPENDS ${_src}
    COMMENT "Building the manual ${_page}"
    VERBATIM)
  list(APPEND _man_outputs ${_out})
  install(FILES ${_out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_section})
endforeach()
add_custom_target(manpages ALL DEPENDS ${_man_outputs})
