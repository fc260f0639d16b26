# Helpers shared by the CMakeLists of stages/ and tests/.

# nlpd_worker(NAME SOURCES... [LIBS ...])
# A stage worker executable nlpd-NAME, installed beside the others in
# libexec/nlpd where the daemon looks for built-in stages.
function(nlpd_worker name)
  cmake_parse_arguments(W "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(nlpd-${name} ${W_SOURCES})
  target_link_libraries(nlpd-${name} PRIVATE ${W_LIBS} nlpd_flags)
  install(TARGETS nlpd-${name} RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/nlpd)
endfunction()

# nlpd_test(NAME SOURCES... [LIBS ...] [TIMEOUT s] [LABELS ...] [ENV ...])
# A cmocka test executable, registered with CTest; TAP output for CI logs.
function(nlpd_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE nlpd_test_support ${T_LIBS} nlpd_flags)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}"
    ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=TAP;NLPD_SOURCE_DIR=${PROJECT_SOURCE_DIR};NLPD_BUILD_DIR=${PROJECT_BINARY_DIR};${T_ENV}")
endfunction()
