# tests/bench/e2e.cmake — the end-to-end benchmark (included from
# tests/CMakeLists.txt).
#
# nlpd-bench-e2e prints figures, it asserts nothing about speed: the real
# daemon with its default pipeline (ingest split tag summarize) and the
# journal on, fed ~4 KB news articles; articles/s flat out, p50/p99 at half
# that rate, the CPU time per article of every process and thread, and what
# the stage libraries alone allow on 2 cores, all measured in the same run.
# `cmake --build BUILD --target bench-e2e` runs it (configure with
# -DCMAKE_BUILD_TYPE=Release or RelWithDebInfo for real figures;
# NLPD_BENCH_E2E_ARGS passes options, e.g. "--replicas tag=2 --no-journal").
# The CTest bench_e2e_smoke only proves it still runs.
if(TARGET nlpd_e2e_support AND TARGET nlpd_ingest AND TARGET nlpd_split AND TARGET nlpd_tag
   AND TARGET nlpd_summarize)
  add_executable(nlpd-bench-e2e ${CMAKE_CURRENT_LIST_DIR}/e2e_bench.c)
  target_link_libraries(nlpd-bench-e2e PRIVATE nlpd_e2e_support nlpd_ingest nlpd_split nlpd_tag
                        nlpd_summarize nlpd_flags)
  target_compile_definitions(nlpd-bench-e2e PRIVATE
    NLPD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    NLPD_BENCH_BUILD_TYPE="${CMAKE_BUILD_TYPE}" NLPD_BENCH_SANITIZE="${NLPD_SANITIZE}")
  add_dependencies(nlpd-bench-e2e nlpd nlpd-ingest nlpd-split nlpd-tag nlpd-summarize)

  add_test(NAME bench_e2e_smoke COMMAND nlpd-bench-e2e --smoke)
  set_tests_properties(bench_e2e_smoke PROPERTIES TIMEOUT 300 LABELS "bench;e2e"
                       ENVIRONMENT "NLPD_BUILD_DIR=${PROJECT_BINARY_DIR};NLPD_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

  set(NLPD_BENCH_E2E_ARGS "" CACHE STRING "Arguments of nlpd-bench-e2e for the bench-e2e target")
  separate_arguments(_nlpd_bench_e2e_args UNIX_COMMAND "${NLPD_BENCH_E2E_ARGS}")
  add_custom_target(bench-e2e
    COMMAND nlpd-bench-e2e ${_nlpd_bench_e2e_args}
    DEPENDS nlpd-bench-e2e
    COMMENT "nlpd end-to-end benchmark (${CMAKE_BUILD_TYPE} build)"
    USES_TERMINAL VERBATIM)
endif()
