# tests/bench/split.cmake — the split library benchmark (included from
# tests/CMakeLists.txt).
#
# nlpd-bench-split prints figures, it asserts nothing about speed:
# `cmake --build BUILD --target bench-split` prints the throughput, heap and
# pipeline-share figures (configure with -DCMAKE_BUILD_TYPE=Release for real
# ones); `nlpd-bench-split --stream-gb 1` shows the RSS over a 1 GB stream.
# The CTest split_bench_smoke only proves it still runs.
if(TARGET nlpd_split)
  add_executable(nlpd-bench-split ${CMAKE_CURRENT_LIST_DIR}/split_bench.c)
  target_link_libraries(nlpd-bench-split PRIVATE nlpd_split nlpd_test_support PkgConfig::JANSSON
                        nlpd_flags)
  target_compile_definitions(nlpd-bench-split PRIVATE
    NLPD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    NLPD_BENCH_BUILD_TYPE="${CMAKE_BUILD_TYPE}" NLPD_BENCH_SANITIZE="${NLPD_SANITIZE}")
  # --pipeline drives a real daemon through the end-to-end support.
  if(TARGET nlpd_e2e_support)
    target_link_libraries(nlpd-bench-split PRIVATE nlpd_e2e_support)
    target_compile_definitions(nlpd-bench-split PRIVATE NLPD_BENCH_E2E)
  endif()

  add_test(NAME split_bench_smoke COMMAND nlpd-bench-split --smoke)
  set_tests_properties(split_bench_smoke PROPERTIES TIMEOUT 180 LABELS bench
                       ENVIRONMENT "NLPD_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

  set(_bench_split_pipeline)
  if(TARGET nlpd_e2e_support AND TARGET nlpd-split)
    set(_bench_split_pipeline COMMAND nlpd-bench-split --pipeline)
  endif()
  add_custom_target(bench-split
    COMMAND nlpd-bench-split
    ${_bench_split_pipeline}
    DEPENDS nlpd-bench-split
    COMMENT "split library benchmark (${CMAKE_BUILD_TYPE} build)"
    USES_TERMINAL VERBATIM)
  if(_bench_split_pipeline)
    add_dependencies(bench-split nlpd nlpd-ingest nlpd-split)
  endif()
endif()
