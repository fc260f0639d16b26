# tests/bench/tag.cmake — the tag library benchmark (included from
# tests/CMakeLists.txt).
#
# nlpd-bench-tag prints figures, it asserts nothing about speed:
# `cmake --build BUILD --target bench-tag` prints the model load time, the
# tagging throughput, heap allocations and RSS (configure with
# -DCMAKE_BUILD_TYPE=Release for real ones). The CTest tag_bench_smoke
# only proves it still runs.
if(TARGET nlpd_tag)
  add_executable(nlpd-bench-tag ${CMAKE_CURRENT_LIST_DIR}/tag_bench.c)
  target_link_libraries(nlpd-bench-tag PRIVATE nlpd_tag nlpd_split nlpd_test_support
                        PkgConfig::JANSSON nlpd_flags)
  target_compile_definitions(nlpd-bench-tag PRIVATE NLPD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME tag_bench_smoke COMMAND nlpd-bench-tag --smoke)
  set_tests_properties(tag_bench_smoke PROPERTIES TIMEOUT 180 LABELS bench
                       ENVIRONMENT "NLPD_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  add_custom_target(bench-tag
    COMMAND nlpd-bench-tag
    DEPENDS nlpd-bench-tag
    COMMENT "tag library benchmark (${CMAKE_BUILD_TYPE} build)"
    USES_TERMINAL VERBATIM)
endif()
